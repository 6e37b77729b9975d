"""Carry the current request into threads the app starts, so their output is attributed.

`threading.Thread.start` and `ThreadPoolExecutor.submit` are wrapped while a runner is
serving. Outside a request both behave exactly as before.
"""

from __future__ import annotations

import contextvars
import functools
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from openfal.runner._active import current_active

__all__ = ["patch_threads", "unpatch_threads"]

_original_start = threading.Thread.start
_original_submit: Callable[..., Future[Any]] = ThreadPoolExecutor.submit


def _start(self: threading.Thread) -> None:
    if current_active() is not None:
        context = contextvars.copy_context()
        # An instance attribute wins over the class's run, including a subclass override.
        self.run = functools.partial(context.run, self.run)  # type: ignore[method-assign]
    _original_start(self)


def _submit(
    self: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
) -> Future[Any]:
    if current_active() is None:
        return _original_submit(self, fn, *args, **kwargs)
    context = contextvars.copy_context()
    # Submit from an empty context: a pool thread started here must not keep this request
    # as its own for life; each work item gets the submitter's context instead.
    return contextvars.Context().run(_original_submit, self, context.run, fn, *args, **kwargs)


def patch_threads() -> None:
    """Install the wrappers (idempotent)."""
    threading.Thread.start = _start  # type: ignore[method-assign]
    ThreadPoolExecutor.submit = _submit  # type: ignore[method-assign, assignment]


def unpatch_threads() -> None:
    """Restore the originals."""
    threading.Thread.start = _original_start  # type: ignore[method-assign]
    ThreadPoolExecutor.submit = _original_submit  # type: ignore[method-assign]
