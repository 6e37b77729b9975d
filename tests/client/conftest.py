from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import fal_client
import pytest

import openfal.client
from openfal.compat import restore, use_server
from tests.client.flavors import Blocking, Flavor
from tests.e2e.harness import Serve

FLAVORS = ["openfal-sync", "openfal-async", "fal_client-sync", "fal_client-async"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    """One ``openfal serve`` for a whole test module (runners stay warm between tests)."""
    s = Serve(
        Path(tmp_path_factory.mktemp("client")),
        ["steps", "sleeper", "echo", "file_output", "streamer", "realtime"],
    ).start()
    yield s
    s.stop()


@pytest.fixture(params=FLAVORS)
def flavor(request: pytest.FixtureRequest, server: Serve, monkeypatch) -> Iterator[Flavor]:
    name: str = request.param
    loop = asyncio.new_event_loop()
    previous = use_server(server.url, key="local-dev-key") if name.startswith("fal_") else None
    try:
        if name == "openfal-sync":
            monkeypatch.setenv("OPENFAL_URL", server.url)
            yield Flavor(name, openfal.client, openfal.client)
        elif name == "openfal-async":
            client = openfal.client.AsyncClient(base_url=server.url)
            yield Flavor(name, Blocking(client, loop), openfal.client)
            loop.run_until_complete(client.aclose())
        elif name == "fal_client-sync":
            yield Flavor(name, fal_client.SyncClient(), fal_client)
        else:
            yield Flavor(name, Blocking(fal_client.AsyncClient(), loop), fal_client)
    finally:
        if previous is not None:
            restore(previous)
        loop.close()
