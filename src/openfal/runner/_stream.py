"""Streaming endpoints: generators become async iterators, their items events.

A sync generator runs one `next()` at a time on the app's thread pool, in the request's
context, so its prints and progress belong to the request; between items it stops when
the request was cancelled. An async generator runs on the loop and is cancelled directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
from collections.abc import AsyncGenerator, Callable, Iterator
from concurrent.futures import Executor
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from openfal.runner._events import json_line_safe
from openfal.sdk import RequestCancelled, RequestContext

__all__ = ["IterCall", "drain", "ensure_async_iter", "sse"]

IterCall = Callable[..., AsyncGenerator[Any, None]]

_DONE = object()


def ensure_async_iter(function: Callable[..., Any], executor: Executor) -> IterCall:
    """Async generator functions as they are; sync ones step through `executor`."""
    if inspect.isasyncgenfunction(function):
        return function

    async def in_thread(*args: Any) -> AsyncGenerator[Any, None]:
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        generator = context.run(function, *args)  # creating a generator runs none of its code
        try:
            while True:
                item = await loop.run_in_executor(executor, context.run, _step, generator)
                if item is _DONE:
                    return
                yield item
        finally:
            # Runs the generator's own `finally` (in a pool thread, in the request context).
            # If a step is still running (the loop is shutting down) it cannot be closed now.
            with contextlib.suppress(ValueError, RuntimeError):
                await loop.run_in_executor(executor, context.run, generator.close)

    return in_thread


def _step(generator: Iterator[Any]) -> Any:
    return next(generator, _DONE)


async def drain(
    items: AsyncGenerator[Any, None],
    model: type[BaseModel] | None,
    request: RequestContext,
    on_item: Callable[[Any], None],
) -> Any:
    """Serialise and hand on every item; return the last one (None if there were none)."""
    last = None
    async with contextlib.aclosing(items):
        async for item in items:
            last = serialise(item, model)
            on_item(last)
            if request.cancelled:  # a sync generator cannot be interrupted mid-step
                raise RequestCancelled()
    return last


def serialise(output: Any, model: type[BaseModel] | None) -> Any:
    """The JSON value of an endpoint's output, checked against its declared model."""
    if model is not None:
        output = model.model_validate(output, from_attributes=True)
    return to_jsonable_python(output, by_alias=True)


def sse(data: Any, event: str | None = None) -> bytes:
    """One server-sent event carrying `data` as JSON."""
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json_line_safe(data)}\n\n".encode()
