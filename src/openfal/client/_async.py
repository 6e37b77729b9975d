"""The asyncio driver: :class:`AsyncClient` and :class:`AsyncRequestHandle`."""

from __future__ import annotations

import asyncio
import inspect
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
from websockets.asyncio.client import ClientConnection, connect

from openfal.client import _flows as flows
from openfal.client import _realtime as rt
from openfal.client import _upload as uploads
from openfal.client._base import BaseClient
from openfal.client._flows import DEFAULT_POLL_INTERVAL, AnyJSON, HandleURLs
from openfal.client._ops import (
    Call,
    CloseStream,
    Emit,
    Flow,
    Op,
    OpenStream,
    ReadFile,
    ReadLine,
    Send,
    SendAll,
    Sleep,
)
from openfal.client._realtime import AsyncRealtimeConnection
from openfal.client._status import Status
from openfal.client._upload import Repository, StorageSettings

T = TypeVar("T")


def _read_file(path: str, offset: int, size: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(size)


class _Driver:
    """Carries out one flow's operations with an ``httpx.AsyncClient``."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.response: httpx.Response | None = None
        self.lines: AsyncIterator[str] | None = None

    async def perform(self, op: Op) -> Any:
        if isinstance(op, Send):
            return await self.http.send(op.request)
        if isinstance(op, SendAll):
            return await self._send_all(op)
        if isinstance(op, Sleep):
            await asyncio.sleep(op.seconds)
        elif isinstance(op, Call):
            result = op.fn(*op.args)
            return await result if inspect.isawaitable(result) else result
        elif isinstance(op, OpenStream):
            return await self._open(op.request)
        elif isinstance(op, ReadLine):
            assert self.lines is not None, "ReadLine without an open stream"
            return await asyncio.wait_for(anext(self.lines, None), op.timeout)
        elif isinstance(op, CloseStream):
            await self.aclose()
        elif isinstance(op, ReadFile):
            return await asyncio.to_thread(_read_file, op.path, op.offset, op.size)
        return None

    async def _send_all(self, op: SendAll) -> list[httpx.Response | BaseException]:
        gate = asyncio.Semaphore(op.concurrency)

        async def send(request: httpx.Request) -> httpx.Response:
            async with gate:
                return await self.http.send(request)

        tasks = (send(r) for r in op.requests)
        return list(await asyncio.gather(*tasks, return_exceptions=True))

    async def _open(self, request: httpx.Request) -> httpx.Response:
        await self.aclose()
        response = await self.http.send(request, stream=True)
        if not response.is_success:
            await response.aread()
            await response.aclose()
            return response
        self.response, self.lines = response, response.aiter_lines()
        return response

    async def aclose(self) -> None:
        if self.response is not None:
            await self.response.aclose()
        self.response, self.lines = None, None


async def _steps(http: httpx.AsyncClient, flow: Flow[T], box: list[T]) -> AsyncIterator[Any]:
    """Run ``flow``; yields what it emits and leaves its return value in ``box``."""
    driver = _Driver(http)
    answer: Any = None
    error: Exception | None = None
    try:
        while True:
            try:
                op = flow.throw(error) if error is not None else flow.send(answer)
            except StopIteration as stop:
                box.append(stop.value)
                return
            answer, error = None, None
            if isinstance(op, Emit):
                yield op.value
                continue
            try:
                answer = await driver.perform(op)
            except Exception as e:
                error = e
    finally:
        await driver.aclose()
        flow.close()


@dataclass(frozen=True)
class AsyncRequestHandle(HandleURLs):
    """A queued request: poll it, wait for it, cancel it."""

    client: AsyncClient = field(repr=False, compare=False)

    async def status(self, *, with_logs: bool = False) -> Status:
        """Queued, InProgress or Completed; with logs so far when ``with_logs``."""
        server = self.client._server()
        return await self.client._drive(flows.status(server, self, with_logs=with_logs))

    async def iter_events(
        self, *, with_logs: bool = False, interval: float = DEFAULT_POLL_INTERVAL
    ) -> AsyncIterator[Status]:
        """Each status change until Completed (the status stream, else polling every
        ``interval`` seconds)."""
        server = self.client._server()
        watching = flows.watch(server, self, with_logs=with_logs, interval=interval)
        async for status in self.client._iterate(watching):
            yield status

    async def get(self, *, interval: float = DEFAULT_POLL_INTERVAL) -> Any:
        """Wait for completion and answer the result."""
        server = self.client._server()
        return await self.client._drive(flows.get(server, self, interval=interval))

    async def cancel(self) -> None:
        await self.client._drive(flows.cancel(self.client._server(), self))


class AsyncClient(BaseClient):
    """fal_client's ``AsyncClient`` API against an openfal server (settings: see
    :class:`~openfal.client._base.BaseClient`). Safe to share across event loops: each loop
    gets its own connection pool."""

    _loop: asyncio.AbstractEventLoop | None = None
    _pool: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._pool is None or self._loop is not loop:
            transport = self._transport
            assert transport is None or isinstance(transport, httpx.AsyncBaseTransport)
            self._loop, self._pool = (
                loop,
                httpx.AsyncClient(transport=transport, follow_redirects=True),
            )
        return self._pool

    async def _drive(self, flow: Flow[T]) -> T:
        box: list[T] = []
        async for _ in _steps(self._http(), flow, box):
            pass
        return box[0]

    def _iterate(self, flow: Flow[Any]) -> AsyncIterator[Any]:
        return _steps(self._http(), flow, [])

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _handle(self, urls: HandleURLs) -> AsyncRequestHandle:
        return AsyncRequestHandle(
            urls.request_id, urls.response_url, urls.status_url, urls.cancel_url, self
        )

    # ------------------------------------------------------------------ queue and run

    async def run(
        self,
        application: str,
        arguments: AnyJSON,
        *,
        method: str = "POST",
        path: str = "",
        timeout: float | None = None,
        start_timeout: float | None = None,
        hint: str | None = None,
        headers: Mapping[str, str] = {},
    ) -> Any:
        """Run the app and answer its output (``timeout``: client-side seconds, default none;
        ``start_timeout``: seconds the server may wait before it starts)."""
        return await self._drive(
            flows.run(
                self._server(),
                application,
                arguments,
                method=method,
                path=path,
                timeout=timeout,
                start_timeout=start_timeout,
                hint=hint,
                headers=headers,
            )
        )

    async def submit(
        self,
        application: str,
        arguments: AnyJSON,
        *,
        path: str = "",
        hint: str | None = None,
        webhook_url: str | None = None,
        priority: str | None = None,
        headers: Mapping[str, str] = {},
        start_timeout: float | None = None,
    ) -> AsyncRequestHandle:
        """Queue a request; answer its handle."""
        urls = await self._drive(
            flows.submit(
                self._server(),
                application,
                arguments,
                path=path,
                hint=hint,
                webhook_url=webhook_url,
                priority=priority,
                headers=headers,
                start_timeout=start_timeout,
            )
        )
        return self._handle(urls)

    async def subscribe(
        self,
        application: str,
        arguments: AnyJSON,
        *,
        path: str = "",
        hint: str | None = None,
        with_logs: bool = False,
        interval: float = DEFAULT_POLL_INTERVAL,
        on_enqueue: Callable[[str], Awaitable[None] | None] | None = None,
        on_queue_update: Callable[[Status], Awaitable[None] | None] | None = None,
        priority: str | None = None,
        headers: Mapping[str, str] = {},
        start_timeout: float | None = None,
        client_timeout: float | None = None,
        webhook_url: str | None = None,
    ) -> Any:
        """Submit, report status changes to ``on_queue_update`` (sync or async), answer the
        result. ``client_timeout`` cancels the request and raises FalClientTimeoutError."""
        return await self._drive(
            flows.subscribe(
                self._server(),
                application,
                arguments,
                path=path,
                hint=hint,
                with_logs=with_logs,
                interval=interval,
                on_enqueue=on_enqueue,
                on_queue_update=on_queue_update,
                priority=priority,
                headers=headers,
                start_timeout=start_timeout,
                client_timeout=client_timeout,
                webhook_url=webhook_url,
            )
        )

    async def get_handle(self, application: str, request_id: str) -> AsyncRequestHandle:
        return self._handle(flows.handle_urls(self._server(), application, request_id))

    async def status(self, application: str, request_id: str, *, with_logs: bool = False) -> Status:
        handle = await self.get_handle(application, request_id)
        return await handle.status(with_logs=with_logs)

    async def result(self, application: str, request_id: str) -> Any:
        return await (await self.get_handle(application, request_id)).get()

    async def cancel(self, application: str, request_id: str) -> None:
        await (await self.get_handle(application, request_id)).cancel()

    async def stream(
        self,
        application: str,
        arguments: AnyJSON,
        *,
        path: str = "/stream",
        timeout: float | None = None,
        headers: Mapping[str, str] = {},
    ) -> AsyncIterator[Any]:
        """Each event of a streaming endpoint; the last one is the final output."""
        server = self._server()
        streaming = flows.stream(
            server, application, arguments, path=path, timeout=timeout, headers=headers
        )
        async for event in self._iterate(streaming):
            yield event

    # ------------------------------------------------------------------ files

    async def upload(
        self,
        data: str | bytes,
        content_type: str,
        file_name: str | None = None,
        *,
        repository: Repository | None = None,
        fallback_repository: Repository | Sequence[Repository] | None = None,
        lifecycle: StorageSettings | None = None,
    ) -> str:
        """Upload bytes; answer the file's URL."""
        source = data.encode() if isinstance(data, str) else bytes(data)
        return await self._drive(
            uploads.upload(
                self._server(),
                self._cdn_token,
                source,
                content_type,
                file_name,
                repository=repository,
                fallback_repository=fallback_repository,
                lifecycle=lifecycle,
                options=self._upload_options,
            )
        )

    async def upload_file(
        self,
        path: str | os.PathLike[str],
        *,
        repository: Repository | None = None,
        fallback_repository: Repository | Sequence[Repository] | None = None,
        lifecycle: StorageSettings | None = None,
    ) -> str:
        """Upload a local file (read part by part when large); answer its URL."""
        return await self._drive(
            uploads.upload(
                self._server(),
                self._cdn_token,
                uploads.file_source(path),
                uploads.guess_type(path),
                os.path.basename(path),
                repository=repository,
                fallback_repository=fallback_repository,
                lifecycle=lifecycle,
                options=self._upload_options,
            )
        )

    async def upload_image(
        self,
        image: Any,
        format: str = "jpeg",
        *,
        repository: Repository | None = None,
        fallback_repository: Repository | Sequence[Repository] | None = None,
        lifecycle: StorageSettings | None = None,
    ) -> str:
        """Upload a Pillow image as ``image/<format>``; answer its URL."""
        return await self.upload(
            uploads.image_bytes(image, format),
            f"image/{format}",
            repository=repository,
            fallback_repository=fallback_repository,
            lifecycle=lifecycle,
        )

    # ------------------------------------------------------------------ realtime

    @asynccontextmanager
    async def realtime(
        self,
        application: str,
        *,
        use_jwt: bool = True,
        path: str = "/realtime",
        max_buffering: int | None = None,
        token_expiration: int = rt.TOKEN_EXPIRATION,
        encode_message: rt.Encoder | None = None,
        decode_message: rt.Decoder | None = None,
    ) -> AsyncIterator[AsyncRealtimeConnection]:
        """A realtime session with the app (msgpack frames; see
        :class:`AsyncRealtimeConnection`)."""
        async with self.ws_connect(
            application,
            use_jwt=use_jwt,
            path=path,
            max_buffering=max_buffering,
            token_expiration=token_expiration,
        ) as ws:
            yield AsyncRealtimeConnection(ws, encode_message, decode_message)

    @asynccontextmanager
    async def ws_connect(
        self,
        application: str,
        *,
        use_jwt: bool = True,
        path: str = "",
        max_buffering: int | None = None,
        token_expiration: int = rt.TOKEN_EXPIRATION,
    ) -> AsyncIterator[ClientConnection]:
        """The raw WebSocket to ``application[/path]`` (``websockets``' asyncio connection)."""
        server = self._server()
        token = None
        if use_jwt:
            token = await self._drive(rt.token(server, application, token_expiration))
        target = rt.url(server, application, token, path=path, max_buffering=max_buffering)
        async with connect(
            target,
            additional_headers=rt.handshake_headers(server, use_jwt),
            open_timeout=rt.OPEN_TIMEOUT,
            max_size=None,
        ) as ws:
            yield ws
