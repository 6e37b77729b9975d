from __future__ import annotations

import fal_client.client as fal_module
import pytest

from tests.e2e.conftest import serve
from tests.e2e.harness import Serve

__all__ = ["fal", "point_fal_client", "serve"]


def point_fal_client(monkeypatch: pytest.MonkeyPatch, server: Serve) -> None:
    """The official fal_client's module attributes, at ``server`` (PROTOCOL.md §12.1)."""
    monkeypatch.setenv("FAL_KEY", "local-dev-key")
    for attr, value in {
        "RUN_URL_FORMAT": f"{server.url}/",
        "QUEUE_URL_FORMAT": f"{server.url}/queue/",
        "REALTIME_URL_FORMAT": f"ws://127.0.0.1:{server.port}/",
        "REST_URL": f"{server.url}/rest",
        "CDN_URL": f"{server.url}/cdn",
    }.items():
        monkeypatch.setattr(fal_module, attr, value)


@pytest.fixture
def fal(serve, monkeypatch) -> Serve:
    server: Serve = serve("realtime")
    point_fal_client(monkeypatch, server)
    return server
