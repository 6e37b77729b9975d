"""Realtime sessions (PROTOCOL.md §7) against a scripted server: a Starlette app under a real
uvicorn in a thread, with the token endpoint and a websocket route."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

import openfal.client as oc
from tests.e2e.harness import free_port, wait_for

TOKENS: list[dict[str, Any]] = []


async def tokens(request: Request) -> JSONResponse:
    body = await request.json()
    TOKENS.append(body)
    return JSONResponse(f"tok-{body['allowed_apps'][0]}")


async def session(ws: WebSocket) -> None:
    """Answers each msgpack input according to what it asks for."""
    query, auth = ws.query_params, ws.headers.get("authorization")
    if query.get("fal_jwt_token") != "tok-app" and auth != "Key k":
        await ws.close(code=4401)
        return
    await ws.accept()
    await ws.send_text(json.dumps({"type": "x-fal-message", "action": "timings"}))
    while True:
        msg = msgpack.unpackb(await ws.receive_bytes())
        if "error" in msg:
            await ws.send_text(json.dumps({"type": "x-fal-error", "error": msg["error"]}))
        elif "text" in msg:
            await ws.send_text(msg["text"])
        elif "close" in msg:
            await ws.close(code=msg["close"])
            return
        else:
            reply = {"echo": msg, "path": ws.url.path, "buffering": query.get("max_buffering")}
            await ws.send_bytes(msgpack.packb(reply))


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    app = Starlette(
        routes=[
            Route("/rest/tokens/", tokens, methods=["POST"]),
            WebSocketRoute("/{path:path}", session),
        ]
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 30, what="uvicorn")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_sync_realtime_session(url: str):
    client = oc.SyncClient(base_url=url, key="k")
    with client.realtime("me/app", max_buffering=4) as conn:
        conn.send({"prompt": "a cat"})
        assert conn.recv() == {
            "echo": {"prompt": "a cat"},
            "path": "/me/app/realtime",
            "buffering": "4",
        }
        conn.send({"text": "not json"})
        assert conn.recv() == {"type": "text", "payload": "not json"}
        conn.send({"text": '{"status": "ok"}'})
        assert conn.recv() == {"status": "ok"}
        conn.send({"error": "INTERNAL_ERROR"})
        with pytest.raises(oc.RealtimeError) as e:
            conn.recv()
        assert e.value.error == "INTERNAL_ERROR" and isinstance(e.value, oc.FalClientError)
        conn.send({"close": 1000})
        assert conn.recv() is None
    assert TOKENS[-1] == {"allowed_apps": ["app"], "token_expiration": 120}


def test_async_realtime_and_a_broken_session(url: str):
    async def go() -> None:
        client = oc.AsyncClient(base_url=url, key="k")
        async with client.realtime("me/app/sub", path="live") as conn:
            await conn.send({"n": 1})
            assert (await conn.recv())["path"] == "/me/app/sub/live"
            await conn.send({"close": 1011})
            with pytest.raises(oc.RealtimeError, match="CONNECTION_CLOSED"):
                await conn.recv()

    asyncio.run(go())


def test_ws_connect_with_the_key_instead_of_a_token(url: str):
    client = oc.SyncClient(base_url=url, key="k")
    before = len(TOKENS)
    with client.ws_connect("me/app", use_jwt=False) as ws:
        assert json.loads(ws.recv())["type"] == "x-fal-message"
        ws.send(msgpack.packb({"raw": True}))
        assert msgpack.unpackb(ws.recv())["path"] == "/me/app"
    assert len(TOKENS) == before
    with pytest.raises(ValueError, match="1 to 60"), client.realtime("me/app", max_buffering=61):
        pass
