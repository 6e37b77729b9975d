"""GET /openapi.json: FastAPI's schema, with each endpoint's input and output models.

Endpoints read their body themselves (to answer validation errors as results in event
mode), so FastAPI cannot see the models; they are added to its schema here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from openfal.sdk import Endpoint

__all__ = ["install_openapi"]

_REF = "#/components/schemas/{model}"


def _models(endpoints: Iterable[Endpoint]) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = []
    for found in endpoints:
        if found.input_model is not None:
            models.append((found.input_model, "validation"))
        if found.output_model is not None:
            models.append((found.output_model, "serialization"))
    return list(dict.fromkeys(models))


def _operation(found: Endpoint, refs: dict[Any, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": refs[(found.input_model, "validation")]}},
        }
    }
    if found.output_model is not None:
        schema = refs[(found.output_model, "serialization")]
        operation["responses"] = {
            "200": {
                "description": "Successful Response",
                "content": {"application/json": {"schema": schema}},
            }
        }
    return operation


def install_openapi(app: FastAPI, endpoints: list[Endpoint]) -> None:
    """Make `app.openapi()` describe the bodies and outputs of `endpoints`."""
    original: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = original()
        refs, definitions = models_json_schema(_models(endpoints), ref_template=_REF)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(definitions.get("$defs", {}))
        for found in endpoints:
            post = schema["paths"][found.url_path]["post"]
            extra = _operation(found, refs)
            post["requestBody"] = extra["requestBody"]
            post["responses"].update(extra.get("responses", {}))
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
