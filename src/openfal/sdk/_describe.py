"""What the platform needs to know about an App class without running it."""

from __future__ import annotations

import inspect
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from openfal.sdk._app import App
from openfal.sdk._endpoint import Endpoint, collect_endpoints

__all__ = ["describe", "endpoint_models"]


def endpoint_models(cls: type[App]) -> dict[str, tuple[type[BaseModel], type[BaseModel] | None]]:
    """`{path: (InputModel, OutputModel or None)}` of the HTTP endpoints; "" is the root."""
    return {
        path: (found.input_model, found.output_model)
        for path, found in collect_endpoints(cls).items()
        if found.input_model is not None and not found.is_websocket  # no JSON body
    }


def _schema(model: type[BaseModel] | None) -> dict[str, Any] | None:
    return None if model is None else model.model_json_schema()


def _doc(obj: object) -> str:
    """The first paragraph of ``obj``'s own docstring ("" without one)."""
    raw = getattr(obj, "__doc__", None) if not isinstance(obj, type) else vars(obj).get("__doc__")
    text = inspect.cleandoc(raw) if isinstance(raw, str) else ""
    return " ".join(text.split("\n\n")[0].split())


def _entry(found: Endpoint, app_doc: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "input_schema": _schema(found.input_model),
        "output_schema": _schema(found.output_model),
    }
    description = _doc(found.function) or app_doc
    if description:  # the playground shows it
        entry["description"] = description
    if found.is_generator:
        entry["streaming"] = True
    if found.is_websocket:
        # The gateway relays websockets to these paths and refuses HTTP calls to them.
        entry["websocket"] = "realtime" if found.realtime is not None else "raw"
    return entry


def describe(cls: type[App]) -> dict[str, Any]:
    """App id, JSON-safe settings and the JSON schemas of every endpoint's input and output.

    Streaming endpoints are marked `"streaming": true`; websocket endpoints
    `"websocket": "realtime"` or `"raw"` (a raw one has no schemas).
    """
    app_doc = _doc(cls)
    endpoints = {path: _entry(found, app_doc) for path, found in collect_endpoints(cls).items()}
    # Settings can hold arbitrary objects (fal's `image=ContainerImage(...)`); the platform
    # stores this as JSON, so such values become their string form.
    settings = to_jsonable_python(cls.settings(), fallback=str)
    return {"app_id": cls.app_id(), "settings": settings, "endpoints": endpoints}
