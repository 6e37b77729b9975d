"""The request being handled, visible to app code in any thread of that request.

The runner binds a `RequestContext` in a contextvar around each call; the SDK only reads
it. Threads see it because the runner propagates contextvars into threads it starts.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field

from openfal.sdk._exceptions import RequestCancelled

__all__ = [
    "ProgressCallback",
    "RequestContext",
    "bind_request",
    "current_request",
    "report_progress",
]

ProgressCallback = Callable[[int, int, "str | None"], None]


@dataclass
class RequestContext:
    """What app code may know about the request it is handling."""

    request_id: str
    headers: Mapping[str, str] = field(default_factory=dict)
    # An Event, not a bool, because worker threads read it while the loop sets it.
    cancel_event: threading.Event = field(default_factory=threading.Event, repr=False)
    on_progress: ProgressCallback | None = field(default=None, repr=False)

    @property
    def cancelled(self) -> bool:
        """Whether cancellation of this request was asked for."""
        return self.cancel_event.is_set()

    def cancel(self) -> None:
        """Mark the request cancelled; the next `report_progress` raises."""
        self.cancel_event.set()


_current: ContextVar[RequestContext | None] = ContextVar("openfal_request", default=None)


def current_request() -> RequestContext | None:
    """The request being handled in this context, or None outside a request."""
    return _current.get()


@contextlib.contextmanager
def bind_request(request: RequestContext) -> Iterator[RequestContext]:
    """Make `request` current for the code run inside the block (runner use)."""
    token = _current.set(request)
    try:
        yield request
    finally:
        _current.reset(token)


def report_progress(step: int, total: int, message: str | None = None) -> None:
    """Report progress of the current request; raise `RequestCancelled` if it was cancelled.

    Call it once per step of a long loop. Outside a request it does nothing.
    """
    request = _current.get()
    if request is None:
        return
    if request.cancelled:
        raise RequestCancelled()
    if request.on_progress is not None:
        request.on_progress(step, total, message)
