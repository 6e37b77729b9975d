"""Point the official ``fal_client`` at an ``openfal serve`` (PROTOCOL.md §12.1)."""

from __future__ import annotations

import fal_client
import fal_client.client as fal_module
import pytest

from tests.e2e.harness import Serve


def use_server(monkeypatch: pytest.MonkeyPatch, s: Serve) -> None:
    """Rebind fal_client's five base URLs to ``s`` for this test (undone by monkeypatch)."""
    monkeypatch.setenv("FAL_KEY", "local-dev-key")
    for attr, value in {
        "RUN_URL_FORMAT": f"{s.url}/",
        "QUEUE_URL_FORMAT": f"{s.url}/queue/",
        "REALTIME_URL_FORMAT": f"ws://127.0.0.1:{s.port}/",
        "REST_URL": f"{s.url}/rest",
        "CDN_URL": f"{s.url}/cdn",
    }.items():
        monkeypatch.setattr(fal_module, attr, value)
    # the module-level client caches its CDN token manager (and REST_URL with it)
    monkeypatch.delitem(fal_client.sync_client.__dict__, "_token_manager", raising=False)


def forget_server() -> None:
    fal_client.sync_client.__dict__.pop("_token_manager", None)
