"""Generator endpoints on an in-process runner: SSE in plain mode, `event` lines in event mode."""

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.runner.helpers import EVENTS, events, fixture_app, in_flight, serving, wait_until


def sse_events(response: httpx.Response) -> list[tuple[str | None, Any]]:
    """(event name, JSON data) of each server-sent event of a response."""
    assert response.headers["content-type"].startswith("text/event-stream")
    found = []
    for block in response.text.split("\n\n"):
        lines = [line for line in block.splitlines() if line and not line.startswith(":")]
        if not lines:
            continue
        name = next((line[7:] for line in lines if line.startswith("event: ")), None)
        data = "\n".join(line[6:] for line in lines if line.startswith("data: "))
        found.append((name, json.loads(data)))
    return found


@pytest.mark.parametrize("path", ["/", "/sync"])
async def test_plain_mode_streams_every_item_as_sse_the_last_one_final(path: str) -> None:
    async with serving(fixture_app("streamer")) as client:
        response = await client.post(path, json={"count": 3, "prompt": "w"})
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    stream = sse_events(response)
    assert [(name, data["index"], data["text"]) for name, data in stream] == [
        (None, 0, "w0"),
        (None, 1, "w1"),
        (None, 2, "w2"),
    ]
    assert [data["partial"] for _, data in stream] == [True, True, False]


@pytest.mark.parametrize("path", ["/", "/sync"])
async def test_event_mode_sends_event_lines_then_the_last_item_as_result(path: str) -> None:
    async with serving(fixture_app("streamer")) as client:
        response = await client.post(path, json={"count": 3}, headers=EVENTS)
    stream = events(response)
    outputs = [e["data"] for e in stream if e["type"] == "event"]
    assert [o["index"] for o in outputs] == [0, 1, 2]
    logs = [e["message"] for e in stream if e["type"] == "log"]
    assert logs == ["chunk 0", "chunk 1", "chunk 2"]
    # each log line comes before the event of the item that printed it
    order = [(e["type"], e.get("message") or e.get("data", {}).get("index")) for e in stream]
    assert order.index(("log", "chunk 1")) < order.index(("event", 1))
    result = stream[-1]
    assert result["type"] == "result" and result["status_code"] == 200
    assert result["body"] == outputs[-1]


async def test_a_failure_before_the_first_item_is_a_json_error() -> None:
    async with serving(fixture_app("streamer")) as client:
        plain = await client.post("/", json={"fail_before": True})
        stream = events(await client.post("/", json={"fail_before": True}, headers=EVENTS))
    assert plain.status_code == 418
    assert plain.headers["content-type"] == "application/json"
    assert plain.json() == {"detail": "refused before the first event"}
    assert [e["type"] for e in stream] == ["result"]
    assert stream[0]["status_code"] == 418


async def test_a_failure_after_some_items_ends_the_stream_with_an_error_event() -> None:
    async with serving(fixture_app("streamer")) as client:
        plain = await client.post("/sync", json={"count": 5, "fail_after": 2})
        stream = events(
            await client.post("/sync", json={"count": 5, "fail_after": 2}, headers=EVENTS)
        )
    assert sse_events(plain)[-1] == (
        "error",
        {"detail": "failed after 2 events", "status_code": 418},
    )
    assert [data["index"] for name, data in sse_events(plain)[:-1]] == [0, 1]
    assert [e["type"] for e in stream if e["type"] != "log"] == ["event", "event", "result"]
    assert stream[-1]["status_code"] == 418


async def test_invalid_input_is_a_422_before_any_event() -> None:
    async with serving(fixture_app("streamer")) as client:
        response = await client.post("/", json={"count": 0})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "count"]


@pytest.mark.parametrize(("path", "how"), [("/", "cancelled"), ("/sync", "closed")])
async def test_cancel_stops_the_generator(path: str, how: str, tmp_path: Path) -> None:
    marker = tmp_path / "stopped"
    body = {"count": 100_000, "delay": 0.02, "marker": str(marker)}
    headers = {**EVENTS, "x-fal-request-id": "gen-1"}
    async with serving(fixture_app("streamer")) as client:
        task = asyncio.create_task(client.post(path, json=body, headers=headers))

        async def running() -> bool:
            return await in_flight(client) == 1

        await wait_until(running, what="the generator to run")
        cancel = await client.post(f"{path.rstrip('/')}/cancel", headers=headers)
        stream = events(await task)
    assert cancel.status_code == 200
    assert stream[-1]["status_code"] == 499
    assert stream[-1]["error_type"] == "client_cancelled"
    assert marker.read_text().split()[0] == how
