"""Every OpenAPI document openfal serves is valid OpenAPI 3.1 (openapi-spec-validator)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from openfal.apps import BUILTIN_APPS
from openfal.gateway.routes.meta import queue_openapi
from openfal.runner import build_app
from openfal.sdk import describe, load_app
from tests.auth.conftest import Gateway, GatewayFactory, make_gateway, register
from tests.e2e.harness import app_ref

__all__ = ["make_gateway"]

FIXTURES = ["echo", "images", "errors", "steps", "streamer", "line_breaks"]


@pytest.fixture
async def gw(make_gateway: GatewayFactory) -> Gateway:
    gw = await make_gateway()
    for name in FIXTURES:
        if name not in ("echo", "errors"):
            await register(gw.store, gw.app.state.registry, name)
    return gw


def _templated_params_declared(doc: dict[str, Any]) -> None:
    for path, item in doc["paths"].items():
        names = {part[1:-1] for part in path.split("/") if part.startswith("{")}
        for method, op in item.items():
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == names, (path, method, declared)


async def test_the_gateway_document_is_valid_openapi_3_1(gw: Gateway) -> None:
    doc = (await gw.client.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.1")
    validate(doc)
    _templated_params_declared(doc)


async def test_every_endpoint_document_is_valid_openapi_3_1(gw: Gateway) -> None:
    apps = (await gw.client.get("/rest/apps")).json()
    ids = [f"{a['app_id']}{p if p != '/' else ''}" for a in apps for p in a["endpoints"]]
    assert len(ids) >= len(FIXTURES)
    for endpoint_id in ids:
        r = await gw.client.get(
            "/rest/openapi/queue/openapi.json", params={"endpoint_id": endpoint_id}
        )
        assert r.status_code == 200, (endpoint_id, r.text)
        doc = r.json()
        assert doc["openapi"].startswith("3.1")
        validate(doc)
        _templated_params_declared(doc)


@pytest.mark.parametrize("name", FIXTURES)
async def test_every_runner_document_is_valid_openapi_3_1(name: str) -> None:
    app = build_app(load_app(app_ref(name)))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://runner"
    ) as c:
        doc = (await c.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.1")
    validate(doc)


@pytest.mark.parametrize("ref", sorted(BUILTIN_APPS))
def test_every_builtin_endpoint_document_is_valid_openapi_3_1(ref: str) -> None:
    cls = load_app(ref)
    info = describe(cls)
    for path, schemas in info["endpoints"].items():
        endpoint_id = "/".join(p for p in (info["app_id"], path) if p)
        doc = queue_openapi(endpoint_id, info["app_id"], schemas)
        validate(doc)
        _templated_params_declared(doc)
