"""What the platform needs to know about an App class without running it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from openfal.sdk._app import App
from openfal.sdk._endpoint import collect_endpoints

__all__ = ["describe", "endpoint_models"]


def endpoint_models(cls: type[App]) -> dict[str, tuple[type[BaseModel], type[BaseModel] | None]]:
    """`{path: (InputModel, OutputModel or None)}` of the HTTP endpoints; "" is the root."""
    return {
        path: (found.input_model, found.output_model)
        for path, found in collect_endpoints(cls).items()
        if found.input_model is not None  # websocket endpoints take no JSON body
    }


def describe(cls: type[App]) -> dict[str, Any]:
    """App id, JSON-safe settings and the JSON schemas of every HTTP endpoint's input and output."""
    endpoints = {
        path: {
            "input_schema": input_model.model_json_schema(),
            "output_schema": None if output_model is None else output_model.model_json_schema(),
        }
        for path, (input_model, output_model) in endpoint_models(cls).items()
    }
    # Settings can hold arbitrary objects (fal's `image=ContainerImage(...)`); the platform
    # stores this as JSON, so such values become their string form.
    settings = to_jsonable_python(cls.settings(), fallback=str)
    return {"app_id": cls.app_id(), "settings": settings, "endpoints": endpoints}
