"""The blocking driver: :class:`SyncClient` and :class:`SyncRequestHandle`."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Generator, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar, Unpack, cast

import httpx
from websockets.sync.client import ClientConnection, connect

from openfal.client import _realtime as rt
from openfal.client._api import ClientApi, HandleApi, WsOptions
from openfal.client._ops import (
    Call,
    CloseStream,
    Driver,
    Emit,
    Flow,
    OpenStream,
    ReadFile,
    ReadLine,
    Run,
    Send,
    SendAll,
    Sleep,
    read_part,
)
from openfal.client._realtime import RealtimeConnection

T = TypeVar("T")


class _Driver(Driver):
    """Carries out one flow's operations with a blocking ``httpx.Client``."""

    http: httpx.Client

    def send(self, op: Send) -> httpx.Response:
        return self.http.send(op.request)

    def send_all(self, op: SendAll) -> list[httpx.Response | Exception]:
        def send(request: httpx.Request) -> httpx.Response | Exception:
            try:
                return self.http.send(request)
            except Exception as e:
                return e

        workers = min(op.concurrency, len(op.requests)) or 1
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(send, op.requests))

    def sleep(self, op: Sleep) -> None:
        time.sleep(op.seconds)

    def call(self, op: Call) -> Any:
        return op.fn(*op.args)

    def open_stream(self, op: OpenStream) -> httpx.Response:
        self.close_stream()
        response = self.http.send(op.request, stream=True)
        if response.is_success:
            self.response, self.lines = response, response.iter_lines()
        else:  # the flow reads the error from the body
            response.read()
            response.close()
        return response

    def read_line(self, op: ReadLine) -> str | None:
        # the read timeout set when the stream opened bounds the wait (op.timeout is a
        # hint only: a blocking read cannot be shortened once started)
        assert self.lines is not None, "ReadLine without an open stream"
        return next(self.lines, None)

    def close_stream(self, op: CloseStream | None = None) -> None:
        if self.response is not None:
            self.response.close()
        self.response, self.lines = None, None

    def read_file(self, op: ReadFile) -> bytes:
        return read_part(op)


def _iterate(http: httpx.Client, flow: Flow[T]) -> Generator[Any, None, T]:
    """Run ``flow``; yields what it emits, returns what it returns."""
    driver, run = _Driver(http), Run(flow)
    try:
        for op in run:
            if isinstance(op, Emit):
                yield op.value
                continue
            try:
                answer = driver.perform(op)
            except Exception as e:
                run.error(e)
            else:
                run.answer(answer)
        return cast(T, run.result)
    finally:
        driver.close_stream()
        run.close()


def _drive(http: httpx.Client, flow: Flow[T]) -> T:
    steps = _iterate(http, flow)
    while True:
        try:
            next(steps)
        except StopIteration as stop:
            result: T = stop.value
            return result


@dataclass(frozen=True)
class SyncRequestHandle(HandleApi):
    """A queued request: poll it, wait for it, cancel it (each call blocks)."""

    client: SyncClient = field(repr=False, compare=False)


class SyncClient(ClientApi):
    """fal_client's ``SyncClient`` API against an openfal server (settings: see
    :class:`~openfal.client._base.BaseClient`)."""

    @cached_property
    def _http(self) -> httpx.Client:
        transport = self._transport
        assert transport is None or isinstance(transport, httpx.BaseTransport)
        return httpx.Client(transport=transport, follow_redirects=True)

    _handle_class = SyncRequestHandle

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

    # ------------------------------------------------------------------ realtime

    @contextmanager
    def ws_connect(
        self, application: str, **options: Unpack[WsOptions]
    ) -> Iterator[ClientConnection]:
        target, headers = self._drive(self._ws_target(application, options))
        opened = connect(
            target, additional_headers=headers, open_timeout=rt.OPEN_TIMEOUT, max_size=None
        )
        with opened as ws:
            yield ws

    @contextmanager
    def _session(
        self,
        ws: AbstractContextManager[ClientConnection],
        encode: rt.Encoder | None,
        decode: rt.Decoder | None,
    ) -> Iterator[RealtimeConnection]:
        with ws as connection:
            yield RealtimeConnection(connection, encode, decode)
