"""Call user code: sync functions become coroutines once, endpoints end in a result.

Every outcome of an endpoint call (output, app error, invalid input, crash, cancellation)
becomes a `ResultEvent`, so plain and event mode answer from the same value. A streaming
endpoint's items also become `OutputEvent`s as they are yielded; its last item is the output.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import Any

from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException

from openfal.runner._events import OutputEvent, ResultEvent
from openfal.runner._stream import drain, serialise
from openfal.sdk import AppException, Endpoint, RequestCancelled, RequestContext

__all__ = [
    "AsyncCall",
    "cancelled_result",
    "ensure_async",
    "parse_input",
    "run_endpoint",
    "validation_detail",
]

AsyncCall = Callable[..., Awaitable[Any]]

logger = logging.getLogger("openfal.runner")


def ensure_async(function: Callable[..., Any], executor: Executor) -> AsyncCall:
    """Coroutine functions as they are; sync ones run in `executor` in a copy of our context."""
    if inspect.iscoroutinefunction(function):
        return function

    @functools.wraps(function)
    async def in_thread(*args: Any) -> Any:
        context = contextvars.copy_context()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, functools.partial(context.run, function, *args))

    return in_thread


def cancelled_result(inference_time: float | None = None) -> ResultEvent:
    """The answer for a request that was cancelled."""
    body = {"detail": "Request was cancelled", "error_type": "client_cancelled"}
    return ResultEvent(499, body, "client_cancelled", inference_time)


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def validation_detail(exc: ValidationError) -> list[dict[str, Any]]:
    """pydantic's errors as FastAPI shows them: loc under "body", no unserialisable parts."""
    detail = []
    for error in exc.errors(include_url=False):
        item: dict[str, Any] = {"loc": ["body", *error["loc"]], "msg": error["msg"]}
        item["type"] = error["type"]
        for key in ("input", "ctx"):
            if key in error and _jsonable(error[key]):
                item[key] = error[key]
        detail.append(item)
    return detail


def parse_input(model: type[BaseModel], body: bytes) -> BaseModel:
    """Validate the JSON body; an empty body counts as `{}`."""
    return model.model_validate_json(body or b"{}")


async def run_endpoint(
    call: Callable[..., Any],
    endpoint: Endpoint,
    body: bytes,
    request: RequestContext,
    emit: Callable[[OutputEvent], None],
) -> ResultEvent:
    """Validate `body`, call the endpoint and map whatever happens to a result.

    `call` is an `AsyncCall`, or an `IterCall` for streaming endpoints: each item goes to
    `emit` as it comes.
    """
    assert endpoint.input_model is not None
    try:
        payload = parse_input(endpoint.input_model, body)
    except ValidationError as exc:
        return ResultEvent(422, {"detail": validation_detail(exc)})
    if request.cancelled:  # cancelled before the endpoint started
        return cancelled_result(0.0)
    started = time.perf_counter()
    try:
        if endpoint.is_generator:
            items = call(payload)
            output = await drain(items, endpoint.output_model, request, _emitter(emit))
        else:
            output = serialise(await call(payload), endpoint.output_model)
        return ResultEvent(200, output, None, time.perf_counter() - started)
    except asyncio.CancelledError:
        if not request.cancelled:
            raise  # not our cancel: the server is stopping or the stream went away
        _uncancel()
        return cancelled_result(time.perf_counter() - started)
    except Exception as exc:
        return _error_result(exc, endpoint, time.perf_counter() - started)


def _emitter(emit: Callable[[OutputEvent], None]) -> Callable[[Any], None]:
    return lambda data: emit(OutputEvent(data))


def _uncancel() -> None:
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()


def _error_result(exc: Exception, endpoint: Endpoint, elapsed: float) -> ResultEvent:
    if isinstance(exc, RequestCancelled):
        return cancelled_result(elapsed)
    if isinstance(exc, AppException):
        return ResultEvent(exc.status_code, {"detail": exc.detail}, None, elapsed)
    if isinstance(exc, HTTPException):  # apps ported from fal raise FastAPI's
        return ResultEvent(exc.status_code, {"detail": exc.detail}, None, elapsed)
    logger.error("Unhandled exception in endpoint /%s", endpoint.path, exc_info=exc)
    return ResultEvent(500, {"detail": "Internal Server Error"}, None, elapsed)
