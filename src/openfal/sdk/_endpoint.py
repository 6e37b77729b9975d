"""`@endpoint` and the discovery of an App class's endpoints from their signatures."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from openfal.sdk._exceptions import AppDefinitionError

__all__ = ["Endpoint", "EndpointSpec", "collect_endpoints", "endpoint"]

F = TypeVar("F", bound=Callable[..., Any])

_MARK = "__openfal_endpoint__"


@dataclass(frozen=True)
class EndpointSpec:
    """What `@endpoint` records on a method."""

    path: str  # without the leading slash; "" is the root
    is_websocket: bool = False


@dataclass(frozen=True)
class Endpoint:
    """One endpoint of an App class, resolved from its method's signature."""

    path: str  # without the leading slash; "" is the root
    method_name: str
    function: Callable[..., Any]
    input_model: type[BaseModel] | None  # None only for websocket endpoints
    output_model: type[BaseModel] | None
    is_websocket: bool
    is_async: bool

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


def endpoint(path: str, *, is_websocket: bool = False) -> Callable[[F], F]:
    """Expose an App method at `path` (`"/"` is the root).

    The method takes one argument annotated with a pydantic model (the JSON body) and
    returns a model or a dict. It may be sync or async.
    """
    spec = EndpointSpec(_normalise(path), is_websocket)

    def mark(function: F) -> F:
        setattr(function, _MARK, spec)
        return function

    return mark


def _hints(cls: type, name: str, function: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(function)
    except Exception as exc:
        raise AppDefinitionError(
            f"{cls.__name__}.{name}: cannot resolve its type annotations ({exc})"
        ) from exc


def _input_model(cls: type, name: str, function: Callable[..., Any]) -> type[BaseModel]:
    params = list(inspect.signature(function).parameters.values())[1:]
    hints = _hints(cls, name, function)
    if len(params) != 1:
        raise AppDefinitionError(
            f"{cls.__name__}.{name}: an endpoint takes exactly one input argument "
            f"besides self, got {len(params)}"
        )
    model = hints.get(params[0].name)
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise AppDefinitionError(
            f"{cls.__name__}.{name}: annotate {params[0].name!r} with a pydantic BaseModel"
        )
    return model


def _output_model(cls: type, name: str, function: Callable[..., Any]) -> type[BaseModel] | None:
    model = _hints(cls, name, function).get("return")
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _resolve(cls: type, name: str, function: Callable[..., Any], spec: EndpointSpec) -> Endpoint:
    websocket = spec.is_websocket
    return Endpoint(
        path=spec.path,
        method_name=name,
        function=function,
        input_model=None if websocket else _input_model(cls, name, function),
        output_model=None if websocket else _output_model(cls, name, function),
        is_websocket=websocket,
        is_async=inspect.iscoroutinefunction(function),
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
