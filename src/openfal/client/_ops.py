"""What a flow asks its driver to do.

Every client operation is written once, as a generator (a *flow*) that yields these small
requests and gets their answers back; it never touches the network, the clock's sleep or a
file itself. :class:`~openfal.client.SyncClient` and :class:`~openfal.client.AsyncClient`
are two drivers that carry the requests out, one blocking and one with ``await``.
Errors from carrying one out (transport errors, timeouts) are thrown into the flow.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

T = TypeVar("T")


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


def relay(flow: Flow[T], on_item: Callable[[Any], Any] | None) -> Flow[T]:
    """Run ``flow``, turning each of its :class:`Emit` values into a call of ``on_item``
    (or dropping it when ``on_item`` is None); answers the flow's return value."""
    answer: Any = None
    error: BaseException | None = None
    try:
        while True:
            try:
                op = flow.throw(error) if error is not None else flow.send(answer)
            except StopIteration as stop:
                result: T = stop.value
                return result
            answer, error = None, None
            if isinstance(op, Emit):
                if on_item is None:
                    continue
                op = Call(on_item, (op.value,))
            try:
                answer = yield op
            except Exception as e:
                error = e
    finally:
        flow.close()
