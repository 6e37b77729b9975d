"""Realtime and raw websocket endpoints of an in-process runner (starlette's TestClient)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
from pydantic import BaseModel
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

import openfal
from openfal.runner import build_app
from tests.e2e.harness import wait_for
from tests.runner.helpers import fixture_app


@pytest.fixture(scope="module")
def runner() -> Iterator[TestClient]:
    with TestClient(build_app(fixture_app("realtime"))) as client:
        yield client


def pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def receive(ws: Any) -> Any:
    """The next frame: msgpack decoded, or the JSON of a text frame."""
    message = ws.receive()
    if message.get("bytes") is not None:
        return msgpack.unpackb(message["bytes"], raw=False)
    return json.loads(message["text"])


def test_round_trips_in_msgpack(runner: TestClient) -> None:
    with runner.websocket_connect("/realtime") as ws:
        for n in range(5):
            ws.send_bytes(pack({"prompt": f"p{n}", "n": n}))
            message = ws.receive()
            assert message["bytes"] is not None  # binary frames, not text
            out = msgpack.unpackb(message["bytes"], raw=False)
            assert (out["echo"], out["n"]) == (f"p{n}", n)


def test_errors_are_x_fal_error_text_frames_and_the_session_goes_on(runner: TestClient) -> None:
    with runner.websocket_connect("/realtime") as ws:
        ws.send_bytes(pack({"n": "x"}))
        invalid = receive(ws)
        ws.send_bytes(b"\xc1 not msgpack")
        undecodable = receive(ws)
        ws.send_bytes(pack({"prompt": "boom"}))
        crashed = receive(ws)
        ws.send_bytes(pack({"prompt": "refuse"}))
        refused = receive(ws)
        ws.send_bytes(pack({"prompt": "still here", "n": 1}))
        after = receive(ws)
    assert invalid["type"] == "x-fal-error" and invalid["error"] == "VALIDATION_ERROR"
    assert [d["loc"] for d in invalid["detail"]] == [["body", "prompt"], ["body", "n"]]
    assert "prompt: Field required" in invalid["reason"]
    assert undecodable["error"] == "VALIDATION_ERROR"
    assert undecodable["detail"][0]["loc"] == ["body"]
    assert crashed == {
        "type": "x-fal-error",
        "error": "INTERNAL_ERROR",
        "reason": "Internal Server Error",
    }
    assert refused["error"] == "INTERNAL_ERROR" and refused["reason"] == "refused on purpose"
    assert after["echo"] == "still here"


def test_a_json_text_frame_is_accepted_too(runner: TestClient) -> None:
    with runner.websocket_connect("/realtime") as ws:
        ws.send_text(json.dumps({"prompt": "text", "n": 3}))
        assert receive(ws)["echo"] == "text"


def test_generator_methods_send_every_output(runner: TestClient) -> None:
    with runner.websocket_connect("/tokens") as ws:
        ws.send_bytes(pack({"prompt": "a"}))
        ws.send_bytes(pack({"prompt": "b"}))
        echoes = [receive(ws)["echo"] for _ in range(6)]
    assert echoes == ["a.0", "a.1", "a.2", "b.0", "b.1", "b.2"]


def _fill_while_blocked(ws: Any, release: Path, first: dict[str, Any], count: int) -> None:
    """Send `first` and wait until its call has begun (it then blocks on `release`), send
    `count` more inputs, and return once the runner has read them all (an invalid frame
    after them is answered by the reader)."""
    started = release.with_name("started")
    ws.send_bytes(pack({**first, "started": str(started), "release": str(release)}))
    wait_for(started.exists, 30, what="the first call to begin")
    for n in range(1, count + 1):
        ws.send_bytes(pack({"prompt": f"p{n}", "n": n}))
    ws.send_bytes(pack({"n": "not an int"}))
    assert receive(ws)["error"] == "VALIDATION_ERROR"
    release.touch()


def test_buffering_keeps_only_the_newest_inputs(runner: TestClient, tmp_path: Path) -> None:
    with runner.websocket_connect("/latest") as ws:
        _fill_while_blocked(ws, tmp_path / "go", {"prompt": "p0", "n": 0}, 9)
        answered = [receive(ws)["n"] for _ in range(3)]
        ws.send_bytes(pack({"prompt": "after", "n": 99}))
        assert receive(ws)["n"] == 99  # nothing else was left waiting
    assert answered == [0, 8, 9]


def test_max_buffering_lowers_the_apps_buffering(runner: TestClient, tmp_path: Path) -> None:
    with runner.websocket_connect("/latest?max_buffering=1") as ws:
        _fill_while_blocked(ws, tmp_path / "go", {"prompt": "p0", "n": 0}, 5)
        assert [receive(ws)["n"] for _ in range(2)] == [0, 5]


def test_a_bad_max_buffering_closes_with_policy_violation(runner: TestClient) -> None:
    with (
        pytest.raises(WebSocketDisconnect) as closed,
        runner.websocket_connect("/latest?max_buffering=99") as ws,
    ):
        ws.receive()
    assert closed.value.code == 1008
    assert "max_buffering" in closed.value.reason


def test_batches_take_up_to_max_batch_size_waiting_inputs(
    runner: TestClient, tmp_path: Path
) -> None:
    with runner.websocket_connect("/batch") as ws:
        _fill_while_blocked(ws, tmp_path / "go", {"prompt": "p0", "n": 0}, 6)
        batches = [receive(ws)["ns"] for _ in range(3)]
    assert batches == [[0], [1, 2, 3, 4], [5, 6]]


def test_an_idle_session_gets_timeout_then_a_normal_close(runner: TestClient) -> None:
    with runner.websocket_connect("/short") as ws:
        ws.send_bytes(pack({"prompt": "once"}))
        assert receive(ws)["echo"] == "once"
        timeout = receive(ws)
        closed = ws.receive()
    assert timeout == {
        "type": "x-fal-error",
        "error": "TIMEOUT",
        "reason": "no inputs, reconnect when needed!",
    }
    assert (closed["type"], closed["code"]) == ("websocket.close", 1000)


def test_raw_websocket_endpoints_get_the_socket(runner: TestClient) -> None:
    with runner.websocket_connect("/ws") as ws:
        ws.send_bytes(pack({"prompt": "raw", "n": 7}))
        assert receive(ws) == {"echo": "raw", "n": 7}
        ws.send_text("bye")
        assert ws.receive() == {"type": "websocket.close", "code": 1000, "reason": ""}


def test_a_raw_endpoint_that_raises_closes_with_1011() -> None:
    class Broken(openfal.App):
        @openfal.endpoint("/ws", is_websocket=True)
        async def ws(self, websocket: Any) -> None:
            await websocket.accept()
            raise RuntimeError("broken on purpose")

    with TestClient(build_app(Broken)) as client, client.websocket_connect("/ws") as ws:
        assert ws.receive()["code"] == 1011


class In(BaseModel):
    data: bytes


class Out(BaseModel):
    size: int
    data: bytes


def test_bytes_travel_as_msgpack_binary() -> None:
    class Frames(openfal.App):
        @openfal.realtime()
        def frame(self, input: In) -> Out:
            return Out(size=len(input.data), data=input.data[::-1])

    with TestClient(build_app(Frames)) as client, client.websocket_connect("/realtime") as ws:
        ws.send_bytes(pack({"data": b"\x00\x01\xff"}))
        assert receive(ws) == {"size": 3, "data": b"\xff\x01\x00"}
