"""`@endpoint`, `@realtime` and the discovery of an App class's endpoints from their signatures.

An endpoint is a method taking one pydantic model. It returns a model or dict, or it is a
(sync or async) generator yielding them: a streaming endpoint, whose last item is its output.
"""

from __future__ import annotations

import collections.abc
import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from openfal.sdk._exceptions import AppDefinitionError

__all__ = ["Endpoint", "EndpointSpec", "RealtimeSpec", "collect_endpoints", "endpoint", "realtime"]

F = TypeVar("F", bound=Callable[..., Any])

_MARK = "__openfal_endpoint__"


@dataclass(frozen=True)
class RealtimeSpec:
    """How a `@realtime` endpoint treats its session (see `realtime`)."""

    buffering: int | None = None
    session_timeout: float | None = None
    max_batch_size: int = 1


@dataclass(frozen=True)
class EndpointSpec:
    """What `@endpoint` or `@realtime` records on a method."""

    path: str  # without the leading slash; "" is the root
    is_websocket: bool = False
    realtime: RealtimeSpec | None = None


@dataclass(frozen=True)
class Endpoint:
    """One endpoint of an App class, resolved from its method's signature."""

    path: str  # without the leading slash; "" is the root
    method_name: str
    function: Callable[..., Any]
    input_model: type[BaseModel] | None  # None only for raw websocket endpoints
    output_model: type[BaseModel] | None  # of each item, for generators
    is_websocket: bool
    is_async: bool  # runs on the event loop: a coroutine or async generator function
    is_generator: bool = False  # yields its outputs (sync or async generator function)
    realtime: RealtimeSpec | None = None  # set for `@realtime` endpoints (also websockets)

    @property
    def url_path(self) -> str:
        """The HTTP path, with its leading slash."""
        return "/" + self.path


def _normalise(path: str) -> str:
    if not path.startswith("/"):
        raise AppDefinitionError(f"endpoint path {path!r} must start with '/'")
    stripped = path.strip("/")
    if path != "/" + stripped or "//" in path:
        raise AppDefinitionError(f"endpoint path {path!r} must not end with '/' or hold '//'")
    if stripped.rsplit("/", 1)[-1] == "cancel":
        # POST /{path}/cancel is how a running request is cancelled.
        raise AppDefinitionError(f"endpoint path {path!r} must not end with '/cancel'")
    return stripped


def _marker(spec: EndpointSpec) -> Callable[[F], F]:
    def mark(function: F) -> F:
        if getattr(function, _MARK, None) is not None:
            raise AppDefinitionError(f"{function.__name__}: a method serves one endpoint only")
        setattr(function, _MARK, spec)
        return function

    return mark


def endpoint(path: str, *, is_websocket: bool = False) -> Callable[[F], F]:
    """Expose an App method at `path` (`"/"` is the root).

    The method takes one argument annotated with a pydantic model (the JSON body) and
    returns a model or a dict; it may be sync or async. A generator method streams: each
    item it yields is one event (`POST .../stream`), the last one is its output.
    With `is_websocket=True` the method is `async def f(self, websocket)` and gets the
    connection (a starlette/FastAPI `WebSocket`) to speak any protocol on.
    """
    return _marker(EndpointSpec(_normalise(path), is_websocket))


def realtime(
    path: str = "/realtime",
    *,
    buffering: int | None = None,
    session_timeout: float | None = None,
    max_batch_size: int = 1,
) -> Callable[[F], F]:
    """Serve an App method over a realtime WebSocket at `path` (fal's `@fal.realtime`).

    Each binary msgpack frame from the client is validated into the method's input model,
    and each output (every item, for generator methods) goes back as a msgpack frame.
    `buffering`: keep only the newest N inputs waiting to be processed (latest frame wins).
    `session_timeout`: seconds without input before the session is closed.
    `max_batch_size`: call `f(self, *inputs)` with up to N waiting inputs at once.
    """
    if buffering is not None and buffering < 1:
        raise AppDefinitionError(f"realtime buffering must be at least 1, got {buffering}")
    if session_timeout is not None and not session_timeout > 0:
        raise AppDefinitionError(f"realtime session_timeout must be > 0, got {session_timeout}")
    if max_batch_size < 1:
        raise AppDefinitionError(f"realtime max_batch_size must be >= 1, got {max_batch_size}")
    spec = RealtimeSpec(buffering, session_timeout, max_batch_size)
    return _marker(EndpointSpec(_normalise(path), is_websocket=True, realtime=spec))


def _hints(cls: type, name: str, function: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(function)
    except Exception as exc:
        raise AppDefinitionError(
            f"{cls.__name__}.{name}: cannot resolve its type annotations ({exc})"
        ) from exc


def _input_model(
    cls: type, name: str, function: Callable[..., Any], batched: bool = False
) -> type[BaseModel]:
    params = list(inspect.signature(function).parameters.values())[1:]
    hints = _hints(cls, name, function)
    if len(params) != 1:
        raise AppDefinitionError(
            f"{cls.__name__}.{name}: an endpoint takes exactly one input argument "
            f"besides self, got {len(params)}"
        )
    if batched != (params[0].kind is inspect.Parameter.VAR_POSITIONAL):
        shape = f"*{params[0].name}" if batched else params[0].name
        raise AppDefinitionError(
            f"{cls.__name__}.{name}: declare the input as {shape!r}"
            + (" (max_batch_size > 1 passes several inputs)" if batched else "")
        )
    model = hints.get(params[0].name)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise AppDefinitionError(
            f"{cls.__name__}.{name}: annotate {params[0].name!r} with a pydantic BaseModel"
        )
    return model


_ITERATORS = {
    collections.abc.Iterator,
    collections.abc.Iterable,
    collections.abc.Generator,
    collections.abc.AsyncIterator,
    collections.abc.AsyncIterable,
    collections.abc.AsyncGenerator,
}


def _output_model(cls: type, name: str, function: Callable[..., Any]) -> type[BaseModel] | None:
    model = _hints(cls, name, function).get("return")
    if typing.get_origin(model) in _ITERATORS:  # Iterator[Out] and friends: Out
        model = next(iter(typing.get_args(model)), None)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _resolve(cls: type, name: str, function: Callable[..., Any], spec: EndpointSpec) -> Endpoint:
    raw_websocket = spec.is_websocket and spec.realtime is None
    asyncgen = inspect.isasyncgenfunction(function)
    if raw_websocket and not inspect.iscoroutinefunction(function):
        raise AppDefinitionError(
            f"{cls.__name__}.{name}: a websocket endpoint must be `async def {name}(self, ws)`"
        )
    batched = spec.realtime is not None and spec.realtime.max_batch_size > 1
    return Endpoint(
        path=spec.path,
        method_name=name,
        function=function,
        input_model=None if raw_websocket else _input_model(cls, name, function, batched),
        output_model=None if raw_websocket else _output_model(cls, name, function),
        is_websocket=spec.is_websocket,
        is_async=inspect.iscoroutinefunction(function) or asyncgen,
        is_generator=asyncgen or inspect.isgeneratorfunction(function),
        realtime=spec.realtime,
    )


def collect_endpoints(cls: type) -> dict[str, Endpoint]:
    """Every endpoint of `cls` (inherited ones included), keyed by path without '/'."""
    found: dict[str, Endpoint] = {}
    for name in dir(cls):
        function = inspect.getattr_static(cls, name, None)
        spec = getattr(function, _MARK, None)
        if not isinstance(spec, EndpointSpec) or not callable(function):
            continue
        if spec.path in found:
            raise AppDefinitionError(
                f"{cls.__name__}: methods {found[spec.path].method_name!r} and {name!r} "
                f"both serve '/{spec.path}'"
            )
        found[spec.path] = _resolve(cls, name, function, spec)
    return found
