"""The blocking driver: :class:`SyncClient` and :class:`SyncRequestHandle`."""

from __future__ import annotations

import concurrent.futures
import os
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

import httpx
from websockets.sync.client import ClientConnection, connect

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
from openfal.client._realtime import RealtimeConnection
from openfal.client._status import Status
from openfal.client._upload import Repository, StorageSettings

T = TypeVar("T")


class _Driver:
    """Carries out one flow's operations with a blocking ``httpx.Client``."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.response: httpx.Response | None = None
        self.lines: Iterator[str] | None = None

    def perform(self, op: Op) -> Any:
        if isinstance(op, Send):
            return self.http.send(op.request)
        if isinstance(op, SendAll):
            return self._send_all(op)
        if isinstance(op, Sleep):
            time.sleep(op.seconds)
        elif isinstance(op, Call):
            return op.fn(*op.args)
        elif isinstance(op, OpenStream):
            return self._open(op.request)
        elif isinstance(op, ReadLine):
            # the read timeout set when the stream opened bounds the wait (op.timeout is a
            # hint only: a blocking read cannot be shortened once started)
            assert self.lines is not None, "ReadLine without an open stream"
            return next(self.lines, None)
        elif isinstance(op, CloseStream):
            self.close()
        elif isinstance(op, ReadFile):
            with open(op.path, "rb") as f:
                f.seek(op.offset)
                return f.read(op.size)
        return None

    def _send_all(self, op: SendAll) -> list[httpx.Response | Exception]:
        def send(request: httpx.Request) -> httpx.Response | Exception:
            try:
                return self.http.send(request)
            except Exception as e:
                return e

        workers = min(op.concurrency, len(op.requests)) or 1
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(send, op.requests))

    def _open(self, request: httpx.Request) -> httpx.Response:
        self.close()
        response = self.http.send(request, stream=True)
        if not response.is_success:
            response.read()
            response.close()
            return response
        self.response, self.lines = response, response.iter_lines()
        return response

    def close(self) -> None:
        if self.response is not None:
            self.response.close()
        self.response, self.lines = None, None


def _iterate(http: httpx.Client, flow: Flow[T]) -> Generator[Any, None, T]:
    """Run ``flow``; yields what it emits, returns what it returns."""
    driver = _Driver(http)
    answer: Any = None
    error: Exception | None = None
    try:
        while True:
            try:
                op = flow.throw(error) if error is not None else flow.send(answer)
            except StopIteration as stop:
                result: T = stop.value
                return result
            answer, error = None, None
            if isinstance(op, Emit):
                yield op.value
                continue
            try:
                answer = driver.perform(op)
            except Exception as e:
                error = e
    finally:
        driver.close()
        flow.close()


def _drive(http: httpx.Client, flow: Flow[T]) -> T:
    steps = _iterate(http, flow)
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            result: T = stop.value
            return result


@dataclass(frozen=True)
class SyncRequestHandle(HandleURLs):
    """A queued request: poll it, wait for it, cancel it."""

    client: SyncClient = field(repr=False, compare=False)

    def status(self, *, with_logs: bool = False) -> Status:
        """Queued, InProgress or Completed; with logs so far when ``with_logs``."""
        return self.client._drive(flows.status(self.client._server(), self, with_logs=with_logs))

    def iter_events(
        self, *, with_logs: bool = False, interval: float = DEFAULT_POLL_INTERVAL
    ) -> Iterator[Status]:
        """Each status change until Completed (the status stream, else polling every
        ``interval`` seconds)."""
        watching = flows.watch(self.client._server(), self, with_logs=with_logs, interval=interval)
        return self.client._iterate(watching)

    def get(self, *, interval: float = DEFAULT_POLL_INTERVAL) -> Any:
        """Wait for completion and answer the result."""
        return self.client._drive(flows.get(self.client._server(), self, interval=interval))

    def cancel(self) -> None:
        self.client._drive(flows.cancel(self.client._server(), self))


class SyncClient(BaseClient):
    """fal_client's ``SyncClient`` API against an openfal server (settings: see
    :class:`~openfal.client._base.BaseClient`)."""

    @cached_property
    def _http(self) -> httpx.Client:
        transport = self._transport
        assert transport is None or isinstance(transport, httpx.BaseTransport)
        return httpx.Client(transport=transport, follow_redirects=True)

    def _drive(self, flow: Flow[T]) -> T:
        return _drive(self._http, flow)

    def _iterate(self, flow: Flow[Any]) -> Iterator[Any]:
        return _iterate(self._http, flow)

    def close(self) -> None:
        if "_http" in self.__dict__:
            self._http.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _handle(self, urls: HandleURLs) -> SyncRequestHandle:
        return SyncRequestHandle(
            urls.request_id, urls.response_url, urls.status_url, urls.cancel_url, self
        )

    # ------------------------------------------------------------------ queue and run

    def run(
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
        return self._drive(
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

    def submit(
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
    ) -> SyncRequestHandle:
        """Queue a request; answer its handle."""
        urls = self._drive(
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

    def subscribe(
        self,
        application: str,
        arguments: AnyJSON,
        *,
        path: str = "",
        hint: str | None = None,
        with_logs: bool = False,
        interval: float = DEFAULT_POLL_INTERVAL,
        on_enqueue: Callable[[str], None] | None = None,
        on_queue_update: Callable[[Status], None] | None = None,
        priority: str | None = None,
        headers: Mapping[str, str] = {},
        start_timeout: float | None = None,
        client_timeout: float | None = None,
        webhook_url: str | None = None,
    ) -> Any:
        """Submit, report status changes to ``on_queue_update``, answer the result.
        ``client_timeout`` cancels the request and raises FalClientTimeoutError."""
        return self._drive(
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

    def get_handle(self, application: str, request_id: str) -> SyncRequestHandle:
        return self._handle(flows.handle_urls(self._server(), application, request_id))

    def status(self, application: str, request_id: str, *, with_logs: bool = False) -> Status:
        return self.get_handle(application, request_id).status(with_logs=with_logs)

    def result(self, application: str, request_id: str) -> Any:
        return self.get_handle(application, request_id).get()

    def cancel(self, application: str, request_id: str) -> None:
        self.get_handle(application, request_id).cancel()

    def stream(
        self,
        application: str,
        arguments: AnyJSON,
        *,
        path: str = "/stream",
        timeout: float | None = None,
        headers: Mapping[str, str] = {},
    ) -> Iterator[Any]:
        """Each event of a streaming endpoint; the last one is the final output."""
        server = self._server()
        return self._iterate(
            flows.stream(
                server, application, arguments, path=path, timeout=timeout, headers=headers
            )
        )

    # ------------------------------------------------------------------ files

    def upload(
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
        return self._drive(
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

    def upload_file(
        self,
        path: str | os.PathLike[str],
        *,
        repository: Repository | None = None,
        fallback_repository: Repository | Sequence[Repository] | None = None,
        lifecycle: StorageSettings | None = None,
    ) -> str:
        """Upload a local file (read part by part when large); answer its URL."""
        return self._drive(
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

    def upload_image(
        self,
        image: Any,
        format: str = "jpeg",
        *,
        repository: Repository | None = None,
        fallback_repository: Repository | Sequence[Repository] | None = None,
        lifecycle: StorageSettings | None = None,
    ) -> str:
        """Upload a Pillow image as ``image/<format>``; answer its URL."""
        return self.upload(
            uploads.image_bytes(image, format),
            f"image/{format}",
            repository=repository,
            fallback_repository=fallback_repository,
            lifecycle=lifecycle,
        )

    # ------------------------------------------------------------------ realtime

    @contextmanager
    def realtime(
        self,
        application: str,
        *,
        use_jwt: bool = True,
        path: str = "/realtime",
        max_buffering: int | None = None,
        token_expiration: int = rt.TOKEN_EXPIRATION,
        encode_message: rt.Encoder | None = None,
        decode_message: rt.Decoder | None = None,
    ) -> Iterator[RealtimeConnection]:
        """A realtime session with the app (msgpack frames; see :class:`RealtimeConnection`)."""
        with self.ws_connect(
            application,
            use_jwt=use_jwt,
            path=path,
            max_buffering=max_buffering,
            token_expiration=token_expiration,
        ) as ws:
            yield RealtimeConnection(ws, encode_message, decode_message)

    @contextmanager
    def ws_connect(
        self,
        application: str,
        *,
        use_jwt: bool = True,
        path: str = "",
        max_buffering: int | None = None,
        token_expiration: int = rt.TOKEN_EXPIRATION,
    ) -> Iterator[ClientConnection]:
        """The raw WebSocket to ``application[/path]`` (``websockets``' sync connection)."""
        server = self._server()
        token = self._drive(rt.token(server, application, token_expiration)) if use_jwt else None
        target = rt.url(server, application, token, path=path, max_buffering=max_buffering)
        with connect(
            target,
            additional_headers=rt.handshake_headers(server, use_jwt),
            open_timeout=rt.OPEN_TIMEOUT,
            max_size=None,
        ) as ws:
            yield ws
