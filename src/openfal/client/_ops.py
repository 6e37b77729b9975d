"""What a flow asks its driver to do.

Every client operation is written once, as a generator (a *flow*) that yields these small
requests and gets their answers back; it never touches the network, the clock's sleep or a
file itself. :class:`~openfal.client.SyncClient` and :class:`~openfal.client.AsyncClient`
are two drivers that carry the requests out, one blocking and one with ``await``.
Errors from carrying one out (transport errors, timeouts) are thrown into the flow.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import httpx

T = TypeVar("T")
U = TypeVar("U")


@dataclass(frozen=True)
class Send:
    """Send one request, read its whole body: answers the ``httpx.Response``."""

    request: httpx.Request


@dataclass(frozen=True)
class SendAll:
    """Send requests concurrently (at most ``concurrency`` at once): answers a list, one
    ``httpx.Response`` or exception per request, in order."""

    requests: tuple[httpx.Request, ...]
    concurrency: int


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Call:
    """Call a user callback (awaited when it returns an awaitable): answers its result."""

    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Emit:
    """Hand a value to the caller of an iterating operation (``iter_events``, ``stream``)."""

    value: Any


@dataclass(frozen=True)
class OpenStream:
    """Send a request and keep its body open for :class:`ReadLine` (one stream at a time;
    the driver closes it when the flow ends). Answers the response; an error response has
    its body read already."""

    request: httpx.Request


@dataclass(frozen=True)
class ReadLine:
    """The next line of the open stream, or None at its end. ``timeout``: seconds to wait
    at most (a ``TimeoutError`` is thrown in), or None."""

    timeout: float | None = None


@dataclass(frozen=True)
class CloseStream:
    pass


@dataclass(frozen=True)
class ReadFile:
    """``size`` bytes of a local file from ``offset``."""

    path: str
    offset: int
    size: int


Op = Send | SendAll | Sleep | Call | Emit | OpenStream | ReadLine | CloseStream | ReadFile
Flow = Generator[Op, Any, T]


class DeadlineExceeded(Exception):
    """Internal: the operation's client-side deadline passed."""


def monotonic() -> float:
    return time.monotonic()


@dataclass(frozen=True)
class Deadline:
    """A point in time an operation must finish by (``at`` None: no limit)."""

    at: float | None = None
    seconds: float | None = field(default=None, compare=False)

    @classmethod
    def after(cls, seconds: float | None) -> Deadline:
        return cls(None if seconds is None else monotonic() + seconds, seconds)

    def remaining(self) -> float | None:
        """Seconds left (None: unlimited); raises :class:`DeadlineExceeded` when none are."""
        if self.at is None:
            return None
        left = self.at - monotonic()
        if left <= 0:
            raise DeadlineExceeded
        return left

    def cap(self, seconds: float | None) -> float | None:
        left = self.remaining()
        if left is None:
            return seconds
        return left if seconds is None else min(seconds, left)


NO_DEADLINE = Deadline()


def sleep(seconds: float, deadline: Deadline = NO_DEADLINE) -> Flow[None]:
    capped = deadline.cap(seconds)
    yield Sleep(seconds if capped is None else capped)
    deadline.remaining()


class Driver:
    """Carries out operations: ``perform(op)`` calls the method named for the op's class
    (``send``, ``send_all``, ``sleep``, ``call``, ``open_stream``, ``read_line``,
    ``close_stream``, ``read_file``): the blocking driver's answer at once, the asyncio
    driver's are coroutines. The stream an ``OpenStream`` opened is ``response``/``lines``."""

    def __init__(self, http: Any) -> None:
        self.http = http
        self.response: Any = None
        self.lines: Any = None

    def perform(self, op: Op) -> Any:
        return getattr(self, _METHODS[type(op)])(op)


_METHODS: dict[type, str] = {
    Send: "send",
    SendAll: "send_all",
    Sleep: "sleep",
    Call: "call",
    OpenStream: "open_stream",
    ReadLine: "read_line",
    CloseStream: "close_stream",
    ReadFile: "read_file",
}


def read_part(op: ReadFile) -> bytes:
    """What a driver answers to ``op`` (blocking)."""
    with open(op.path, "rb") as f:
        f.seek(op.offset)
        return f.read(op.size)


class Run(Generic[T]):
    """One flow being carried out: iterate it for the operations it asks for, and after
    each one (but :class:`Emit`) report its ``answer`` or ``error``. The one loop every
    driver (and :func:`relay`) uses; ``result`` is the flow's return value."""

    def __init__(self, flow: Flow[T]) -> None:
        self.flow = flow
        self.result: T | None = None
        self._next: Op | None = None
        self._advanced = False
        self._advance(lambda: next(flow))

    def __iter__(self) -> Iterator[Op]:
        while (op := self._next) is not None:
            self._advanced = False
            yield op
            if not self._advanced:  # an Emit nobody answered, or an op nobody reported
                self.answer(None)

    def answer(self, value: Any) -> None:
        self._advance(lambda: self.flow.send(value))

    def error(self, exc: Exception) -> None:
        self._advance(lambda: self.flow.throw(exc))

    def _advance(self, step: Callable[[], Op]) -> None:
        self._advanced = True
        try:
            self._next = step()
        except StopIteration as stop:
            self._next, self.result = None, stop.value

    def close(self) -> None:
        self.flow.close()


def relay(flow: Flow[T], on_item: Callable[[Any], Any] | None) -> Flow[T]:
    """Run ``flow``, turning each of its :class:`Emit` values into a call of ``on_item``
    (or dropping it when ``on_item`` is None); answers the flow's return value."""
    run = Run(flow)
    try:
        for op in run:
            if isinstance(op, Emit):
                if on_item is None:
                    continue
                op = Call(on_item, (op.value,))
            try:
                run.answer((yield op))
            except Exception as e:
                run.error(e)
        return run.result  # type: ignore[return-value]  # the flow has returned
    finally:
        run.close()


def then(flow: Flow[T], fn: Callable[[T], U]) -> Flow[U]:
    """``flow``, then ``fn`` of what it answered."""
    return fn((yield from flow))


def just(value: T) -> Flow[T]:
    """A flow that asks for nothing and answers ``value``."""
    return value
    yield  # a generator, like every flow
