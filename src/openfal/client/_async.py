"""The asyncio driver: :class:`AsyncClient` and :class:`AsyncRequestHandle`."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar, Unpack, cast

import httpx
from websockets.asyncio.client import ClientConnection, connect

from openfal.client import _ops as ops
from openfal.client import _realtime as rt
from openfal.client._api import ClientApi, HandleApi, WsOptions
from openfal.client._realtime import AsyncRealtimeConnection

T = TypeVar("T")


class _Driver(ops.Driver):
    """Carries out one flow's operations with an ``httpx.AsyncClient``."""

    http: httpx.AsyncClient

    async def emitted(self, run: ops.Run[Any]) -> AsyncIterator[Any]:
        """Carry ``run`` out; yields the values it emits."""
        for op in run:
            if isinstance(op, ops.Emit):
                yield op.value
                continue
            try:
                answer = await self.perform(op)
            except Exception as e:
                run.error(e)
            else:
                run.answer(answer)

    async def send(self, op: ops.Send) -> httpx.Response:
        return await self.http.send(op.request)

    async def send_all(self, op: ops.SendAll) -> list[httpx.Response | BaseException]:
        gate = asyncio.Semaphore(op.concurrency)

        async def send(request: httpx.Request) -> httpx.Response:
            async with gate:
                return await self.http.send(request)

        tasks = (send(r) for r in op.requests)
        return list(await asyncio.gather(*tasks, return_exceptions=True))

    async def sleep(self, op: ops.Sleep) -> None:
        await asyncio.sleep(op.seconds)

    async def call(self, op: ops.Call) -> Any:
        result = op.fn(*op.args)
        return await result if inspect.isawaitable(result) else result

    async def open_stream(self, op: ops.OpenStream) -> httpx.Response:
        await self.close_stream()
        response = await self.http.send(op.request, stream=True)
        if not response.is_success:
            await response.aread()  # the flow reads the error from the body
            await response.aclose()
            return response
        self.response, self.lines = response, response.aiter_lines()
        return response

    async def read_line(self, op: ops.ReadLine) -> str | None:
        assert self.lines is not None, "ReadLine without an open stream"
        return await asyncio.wait_for(anext(self.lines, None), op.timeout)

    async def close_stream(self, op: ops.CloseStream | None = None) -> None:
        if self.response is not None:
            await self.response.aclose()
        self.response, self.lines = None, None

    async def read_file(self, op: ops.ReadFile) -> bytes:
        return await asyncio.to_thread(ops.read_part, op)


async def _steps(http: httpx.AsyncClient, flow: ops.Flow[T], box: list[T]) -> AsyncIterator[Any]:
    """Run ``flow``; yields what it emits and leaves its return value in ``box``."""
    driver, run = _Driver(http), ops.Run(flow)
    try:
        async for value in driver.emitted(run):
            yield value
        box.append(cast(T, run.result))
    finally:
        await driver.close_stream()
        run.close()


@dataclass(frozen=True)
class AsyncRequestHandle(HandleApi):
    """A queued request: poll it, wait for it, cancel it (each call answers an awaitable;
    ``iter_events`` an async iterator)."""

    client: AsyncClient = field(repr=False, compare=False)


class AsyncClient(ClientApi):
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

    _handle_class = AsyncRequestHandle

    async def _drive(self, flow: ops.Flow[T]) -> T:
        box: list[T] = []
        async for _ in _steps(self._http(), flow, box):
            pass
        return box[0]

    async def _iterate(self, flow: ops.Flow[Any]) -> AsyncIterator[Any]:
        async for value in _steps(self._http(), flow, []):  # the pool of the loop iterating
            yield value

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()
            self._pool = None

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ realtime

    @asynccontextmanager
    async def ws_connect(
        self, application: str, **options: Unpack[WsOptions]
    ) -> AsyncIterator[ClientConnection]:
        target, headers = await self._drive(self._ws_target(application, options))
        headers_and_limits = {"additional_headers": headers, "max_size": None}
        async with connect(target, open_timeout=rt.OPEN_TIMEOUT, **headers_and_limits) as ws:
            yield ws

    @asynccontextmanager
    async def _session(
        self, ws: AbstractAsyncContextManager[ClientConnection], encode: Any, decode: Any
    ) -> AsyncIterator[AsyncRealtimeConnection]:
        async with ws as connection:
            yield AsyncRealtimeConnection(connection, encode, decode)
