"""Realtime websockets through ``openfal serve`` with the official ``fal-client``."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import fal_client
import httpx
import jwt
import msgpack
import pytest
from fal_client.client import RealtimeError
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.e2e.harness import Serve, wait_for

pytestmark = pytest.mark.e2e

APP = "test/live"


def test_sync_realtime_20_round_trips_then_bad_input_then_more(fal: Serve) -> None:
    with fal_client.realtime(APP) as connection:
        for n in range(20):
            connection.send({"prompt": f"p{n}", "n": n})
            out = connection.recv()
            assert (out["echo"], out["n"]) == (f"p{n}", n)
        connection.send({"n": "twenty-one"})
        with pytest.raises(RealtimeError) as invalid:
            connection.recv()
        connection.send({"prompt": "boom"})
        with pytest.raises(RealtimeError) as crashed:
            connection.recv()
        connection.send({"prompt": "still usable", "n": 21})
        assert connection.recv()["echo"] == "still usable"
    assert invalid.value.error == "VALIDATION_ERROR"
    assert [d["loc"] for d in invalid.value.payload["detail"]] == [
        ["body", "prompt"],
        ["body", "n"],
    ]
    assert crashed.value.error == "INTERNAL_ERROR"


def test_async_realtime_20_round_trips(fal: Serve) -> None:
    async def session() -> list[int]:
        seen = []
        async with fal_client.realtime_async(APP) as connection:
            for n in range(20):
                await connection.send({"prompt": "a", "n": n})
                seen.append((await connection.recv())["n"])
        return seen

    assert asyncio.run(session()) == list(range(20))


def test_ws_connect_speaks_msgpack_to_realtime_and_raw_endpoints(fal: Serve) -> None:
    for path in ("/realtime", "/ws"):
        with fal_client.ws_connect(APP, path=path) as ws:
            for n in range(20):
                ws.send(msgpack.packb({"prompt": f"w{n}", "n": n}, use_bin_type=True))
                out = msgpack.unpackb(ws.recv(), raw=False)
                assert (out["echo"], out["n"]) == (f"w{n}", n)


def test_the_key_in_a_header_works_without_a_token(fal: Serve) -> None:
    with fal_client.realtime(APP, use_jwt=False) as connection:
        connection.send({"prompt": "keyed"})
        assert connection.recv()["echo"] == "keyed"


def test_an_idle_session_times_out_with_a_timeout_frame(fal: Serve) -> None:
    with fal_client.realtime(APP, path="/short") as connection:
        connection.send({"prompt": "once"})
        assert connection.recv()["echo"] == "once"
        with pytest.raises(RealtimeError) as timeout:
            connection.recv()
        assert connection.recv() is None  # then a clean close (1000)
    assert (timeout.value.error, timeout.value.reason) == (
        "TIMEOUT",
        "no inputs, reconnect when needed!",
    )


def test_generator_outputs_and_max_buffering_through_the_gateway(fal: Serve, tmp_path) -> None:
    with fal_client.realtime(APP, path="/tokens") as connection:
        connection.send({"prompt": "t"})
        assert [connection.recv()["echo"] for _ in range(3)] == ["t.0", "t.1", "t.2"]
    started, release = tmp_path / "started", tmp_path / "go"
    with fal_client.realtime(APP, path="/latest", max_buffering=1) as connection:
        connection.send(
            {"prompt": "first", "n": 0, "started": str(started), "release": str(release)}
        )
        wait_for(started.exists, 30, what="the first call to begin")
        for n in range(1, 6):
            connection.send({"prompt": "queued", "n": n})
        connection.send({"n": "marks that the runner read everything before it"})
        with pytest.raises(RealtimeError):
            connection.recv()
        release.touch()
        assert [connection.recv()["n"] for _ in range(2)] == [0, 5]


def _token(server: Serve, *apps: str) -> str:
    body = {"allowed_apps": list(apps), "token_expiration": 60}
    token: str = httpx.post(f"{server.url}/rest/tokens/", json=body).json()
    return token


def _refusal(url: str) -> tuple[int, bytes]:
    with pytest.raises(InvalidStatus) as refused:
        connect(url, open_timeout=30).close()
    return refused.value.response.status_code, refused.value.response.body or b""


def test_a_token_for_another_app_is_refused(fal: Serve) -> None:
    base = f"ws://127.0.0.1:{fal.port}/{APP}/realtime"
    status, body = _refusal(f"{base}?fal_jwt_token={_token(fal, 'other-app')}")
    assert status == 403
    assert b"does not allow app 'test/live'" in body
    assert _refusal(f"{base}?fal_jwt_token=forged.token.here")[0] == 401
    with connect(f"{base}?fal_jwt_token={_token(fal, 'live')}") as ws:
        ws.send(msgpack.packb({"prompt": "mine"}))
        assert msgpack.unpackb(ws.recv())["echo"] == "mine"


def test_unknown_targets_and_bad_parameters_are_refused(fal: Serve) -> None:
    root = f"ws://127.0.0.1:{fal.port}"
    assert _refusal(f"{root}/test/nope/realtime")[0] == 404
    assert _refusal(f"{root}/{APP}/not-a-socket")[0] == 404
    assert _refusal(f"{root}/{APP}/realtime?max_buffering=0")[0] == 400
    # and a websocket path is not an HTTP endpoint
    assert httpx.post(f"{fal.url}/{APP}/realtime", json={"prompt": "x"}).status_code == 404


def runners(server: Serve) -> list[dict]:
    listed: list[dict] = httpx.get(f"{server.url}/rest/runners").json()
    return listed


def test_each_session_holds_a_runner_slot(fal: Serve, tmp_path: Path) -> None:
    """max_multiplexing=1: two open sessions need two runners; a closed one frees its slot."""
    release = tmp_path / "go"
    pids: list[int] = []

    def hold_session() -> None:
        with fal_client.realtime(APP) as connection:
            connection.send({"prompt": "held", "release": str(release)})
            pids.append(connection.recv()["pid"])

    first = threading.Thread(target=hold_session)
    first.start()
    wait_for(lambda: [r for r in runners(fal) if r["in_flight"] == 1], 60, what="one session")
    with fal_client.realtime(APP) as connection:
        connection.send({"prompt": "second"})
        pids.append(connection.recv()["pid"])
        busy = sorted(r["in_flight"] for r in runners(fal) if r["state"] == "READY")
    release.touch()
    first.join(60)
    assert busy == [1, 1]
    assert len(set(pids)) == 2  # the sessions ran on two different runners
    wait_for(lambda: all(r["in_flight"] == 0 for r in runners(fal)), 30, what="slots freed")



def test_with_keys_a_token_carries_the_keys_user_and_only_its_app(fal: Serve) -> None:
    secret = fal.create_key("alice")
    body = {"allowed_apps": ["live"], "token_expiration": 60}
    assert httpx.post(f"{fal.url}/rest/tokens/", json=body).status_code == 401  # no key
    token = httpx.post(
        f"{fal.url}/rest/tokens/", json=body, headers={"authorization": f"Key {secret}"}
    ).json()
    assert jwt.decode(token, options={"verify_signature": False})["sub"] == "alice"
    base = f"ws://127.0.0.1:{fal.port}/{APP}"
    with connect(f"{base}/realtime?fal_jwt_token={token}") as ws:
        ws.send(msgpack.packb({"prompt": "alice's"}))
        assert msgpack.unpackb(ws.recv())["echo"] == "alice's"
    assert _refusal(f"{base}/realtime")[0] == 401  # no credential at all
    other = httpx.post(
        f"{fal.url}/rest/tokens/",
        json={"allowed_apps": ["other-app"]},
        headers={"authorization": f"Key {secret}"},
    ).json()
    assert _refusal(f"{base}/realtime?fal_jwt_token={other}")[0] == 403  # valid, another app
    # the official client with that key (fal_client.realtime caches the first key it saw)
    with fal_client.SyncClient(key=secret).realtime(APP) as connection:
        connection.send({"prompt": "with a key"})
        assert connection.recv()["echo"] == "with a key"
