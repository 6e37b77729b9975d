"""Realtime through ``openfal serve`` (the ``test/live`` fixture app) with openfal.client and
the official fal_client, sync and async."""

from __future__ import annotations

import asyncio
from typing import Any

import fal_client
import msgpack
import pytest
from websockets.exceptions import ConnectionClosedOK

import openfal.client
from openfal.compat import restore, use_server
from tests.e2e.harness import Serve

pytestmark = pytest.mark.e2e

APP = "test/live"


def sync_session(client: Any, errors: type[Exception]) -> list[Any]:
    with client.realtime(APP) as conn:
        out = []
        for n in range(3):
            conn.send({"prompt": f"p{n}", "n": n})
            out.append(conn.recv())
        conn.send({"prompt": "boom"})
        with pytest.raises(errors) as e:
            conn.recv()
        assert e.value.error == "INTERNAL_ERROR"
        return out


async def async_session(client: Any, errors: type[Exception]) -> list[Any]:
    async with client.realtime(APP) as conn:
        out = []
        for n in range(3):
            await conn.send({"prompt": f"p{n}", "n": n})
            out.append(await conn.recv())
        await conn.send({"prompt": "boom"})
        with pytest.raises(errors) as e:
            await conn.recv()
        assert e.value.error == "INTERNAL_ERROR"
        return out


@pytest.mark.parametrize(
    "kind", ["openfal-sync", "openfal-async", "fal_client-sync", "fal_client-async"]
)
def test_realtime_round_trips(kind: str, server: Serve):
    previous = use_server(server.url, key="local-dev-key") if kind.startswith("fal_") else None
    try:
        if kind == "openfal-sync":
            out = sync_session(
                openfal.client.SyncClient(base_url=server.url), openfal.client.RealtimeError
            )
        elif kind == "openfal-async":
            client = openfal.client.AsyncClient(base_url=server.url)
            out = asyncio.run(async_session(client, openfal.client.RealtimeError))
        elif kind == "fal_client-sync":
            out = sync_session(fal_client.SyncClient(), fal_client.client.RealtimeError)
        else:
            out = asyncio.run(
                async_session(fal_client.AsyncClient(), fal_client.client.RealtimeError)
            )
    finally:
        if previous is not None:
            restore(previous)
    assert [(o["echo"], o["n"]) for o in out] == [("p0", 0), ("p1", 1), ("p2", 2)]


def test_ws_connect_to_a_raw_websocket_endpoint(server: Serve):
    client = openfal.client.SyncClient(base_url=server.url)
    with client.ws_connect(APP, path="ws") as ws:
        ws.send(msgpack.packb({"prompt": "raw", "n": 7}))
        assert msgpack.unpackb(ws.recv()) == {"echo": "raw", "n": 7}
        ws.send("bye")
        with pytest.raises(ConnectionClosedOK):
            ws.recv()
