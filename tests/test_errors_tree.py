"""One exception root on the server side: every exception class openfal defines (but the
client's, which has its own ``FalClientError`` root) is an ``OpenfalError``, drawn in
``openfal.errors``'s docstring, and the gateway renders any of them with its status."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import httpx
import pytest
from starlette.routing import Route

import openfal
from openfal.errors import OpenfalError
from openfal.filekeys import InvalidKey
from openfal.gateway import create_app
from openfal.storage.errors import FileNotFound, UploadTooLarge
from openfal.store import Store
from openfal.urlguard import UrlRefused

OWN_ROOTS = ("openfal.client",)  # mirrors fal_client's errors on purpose


def _server_modules() -> list[str]:
    names = [m.name for m in pkgutil.walk_packages(openfal.__path__, "openfal.")]
    return [n for n in names if not n.startswith(OWN_ROOTS) and n != "openfal.__main__"]


def test_every_server_side_exception_has_the_one_root() -> None:
    strays = []
    for name in _server_modules():
        module = importlib.import_module(name)
        for cls_name, cls in inspect.getmembers(module, inspect.isclass):
            error = issubclass(cls, Exception) and not issubclass(cls, Warning)
            if cls.__module__ == name and error and not issubclass(cls, OpenfalError):
                strays.append(f"{name}.{cls_name}")
    assert strays == []


def test_the_tree_is_drawn_in_one_docstring() -> None:
    doc = importlib.import_module("openfal.errors").__doc__ or ""
    for name in ("GatewayError", "StorageError", "UrlRefused", "InvalidKey", "SettingsError"):
        assert name in doc


@pytest.mark.parametrize(
    ("error", "status", "error_type"),
    [
        (InvalidKey("key is empty"), 400, "bad_request"),
        (FileNotFound("a/b"), 404, None),
        (UploadTooLarge(10, 11), 413, "payload_too_large"),
        (UrlRefused("127.0.0.1 is loopback"), 400, "url_refused"),
    ],
)
async def test_the_gateway_maps_any_leaf_in_one_handler(
    error: OpenfalError, status: int, error_type: str | None
) -> None:
    async def boom(request: object) -> None:
        raise error

    app = create_app(Store.from_url("memory://"))
    app.router.routes.insert(0, Route("/boom", boom))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        r = await client.get("/boom")
    assert r.status_code == status
    assert r.headers.get("x-fal-error-type") == error_type
    assert r.json()["detail"]
