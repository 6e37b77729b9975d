"""The requests running in this runner: their context, event queue and cancellation."""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

from openfal.errors import OpenfalError
from openfal.runner._events import Event, LogEvent, ProgressEvent, ResultEvent
from openfal.sdk import RequestContext, bind_request

__all__ = ["ActiveRequest", "DuplicateRequest", "Registry", "current_active"]

# A line ends at \n, \r\n or a lone \r (progress bars redraw with \r).
_LINE = re.compile(r"([^\r\n]*)(?:\r\n|\r|\n)")

_active: ContextVar[ActiveRequest | None] = ContextVar("openfal_active", default=None)


def current_active() -> ActiveRequest | None:
    """The request whose output the current thread's writes belong to, if any."""
    return _active.get()


class ActiveRequest:
    """One running request: where its log, progress and result events go.

    Events may come from any thread; they reach the queue through the loop's
    `call_soon_threadsafe`, in the order they were emitted, the result last.
    """

    def __init__(self, request_id: str, headers: Mapping[str, str], stream: bool) -> None:
        self.context = RequestContext(request_id, dict(headers), on_progress=self._on_progress)
        self.events: asyncio.Queue[Event] | None = asyncio.Queue() if stream else None
        self.task: asyncio.Task[Any] | None = None  # set for async endpoints only
        self.finished = False
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._partial: dict[tuple[str, int], str] = {}  # (level, thread) -> unfinished line
        self._lock = threading.Lock()

    @property
    def request_id(self) -> str:
        return self.context.request_id

    @contextlib.contextmanager
    def activated(self) -> Iterator[None]:
        """Attribute the output of the code run inside the block (and its threads) to us."""
        token = _active.set(self)
        try:
            with bind_request(self.context):
                yield
        finally:
            _active.reset(token)

    def cancel(self) -> None:
        """Ask the request to stop: report_progress raises, an async endpoint is cancelled."""
        self.context.cancel()
        if self.task is not None and not self.task.done():
            self.task.cancel()

    def write(self, level: str, text: str) -> None:
        """Add printed text; every complete line becomes one log event."""
        if self.events is None or self.finished:
            return
        key = (level, threading.get_ident())
        with self._lock:
            lines, rest = _split_lines(self._partial.pop(key, "") + text)
            if rest:
                self._partial[key] = rest
        for line in lines:
            self.emit(LogEvent(level, line))

    def emit(self, event: Event) -> None:
        """Queue an event from any thread; dropped once the request has finished."""
        if self.events is not None and not self.finished:
            self._schedule(self._put, event)

    def finish(self, result: ResultEvent) -> None:
        """Queue the unfinished lines, then the result as the last event.

        Scheduled like every other event, so lines that threads emitted while the loop was
        busy (an async endpoint blocking on join()) still come before the result.
        """
        if self.events is not None:
            self._schedule(self._finish, result)
        else:
            self.finished = True

    def _schedule(self, callback: Callable[..., None], *args: Any) -> None:
        try:
            if threading.get_ident() == self._loop_thread:
                # FIFO with everything scheduled before, without waking the loop's selector
                self._loop.call_soon(callback, *args)
            else:
                # Thread-safe, and FIFO with what other threads scheduled before us.
                self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop is closed: nobody is left to read the event
            pass

    def _put(self, event: Event) -> None:
        if self.events is not None and not self.finished:
            self.events.put_nowait(event)

    def _finish(self, result: ResultEvent) -> None:
        with self._lock:
            leftovers = [(key[0], text) for key, text in self._partial.items()]
            self._partial.clear()
        for level, text in leftovers:
            self._put(LogEvent(level, text))
        self._put(result)
        self.finished = True

    def _on_progress(self, step: int, total: int, message: str | None) -> None:
        self.emit(ProgressEvent(step, total, message))


def _split_lines(text: str) -> tuple[list[str], str]:
    lines = [match.group(1) for match in _LINE.finditer(text)]
    rest = _LINE.sub("", text)
    return [line for line in lines if line], rest


class DuplicateRequest(OpenfalError):
    """A request id that is already running here was sent again."""


class Registry:
    """The requests in flight, by id."""

    def __init__(self) -> None:
        self._running: dict[str, ActiveRequest] = {}

    def __len__(self) -> int:
        return len(self._running)

    def __iter__(self) -> Iterator[ActiveRequest]:
        return iter(list(self._running.values()))

    def add(self, request: ActiveRequest) -> None:
        if request.request_id in self._running:
            raise DuplicateRequest(request.request_id)
        self._running[request.request_id] = request

    def remove(self, request: ActiveRequest) -> None:
        if self._running.get(request.request_id) is request:
            del self._running[request.request_id]

    def get(self, request_id: str) -> ActiveRequest | None:
        return self._running.get(request_id)
