"""``POST /{app}/stream`` through a real ``openfal serve`` and runner processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import fal_client
import fal_client.client as fal_module
import httpx
import pytest

from tests.e2e.harness import Serve, wait_for

pytestmark = pytest.mark.e2e

APP = "test/streamer"


def iter_sse(response: httpx.Response) -> Iterator[tuple[str | None, Any]]:
    """(event name, JSON data) of each server-sent event, as it arrives."""
    name, data = None, []
    for line in response.iter_lines():
        if line.startswith(":"):
            continue
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data.append(line[6:])
        elif not line and data:
            yield name, json.loads("\n".join(data))
            name, data = None, []


@pytest.fixture
def server(serve) -> Serve:
    s: Serve = serve("streamer")
    return s


def cli(server: Serve, *args: str) -> str:
    command = [sys.executable, "-m", "openfal", *args, "--data-dir", str(server.data_dir)]
    env = {**os.environ, "COLUMNS": "250"}
    return subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout


def test_events_arrive_while_the_generator_runs_and_land_on_the_request(server, tmp_path):
    gate = tmp_path / "gate"
    body = {"count": 5, "gate": str(gate), "prompt": "tok"}
    with server.client() as http, http.stream("POST", f"/{APP}/stream", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        request_id = response.headers["x-fal-request-id"]
        events = []
        for _, data in iter_sse(response):
            if not events:
                first_arrived = time.time()
                gate.touch()  # the generator waits for this before it goes on
            events.append(data)
    assert [e["text"] for e in events] == ["tok0", "tok1", "tok2", "tok3", "tok4"]
    assert [e["partial"] for e in events] == [True] * 4 + [False]
    # The first event was in our hands before the generator produced its last one.
    assert first_arrived < events[-1]["t"]

    shown = json.loads(cli(server, "requests", "show", request_id))
    assert shown["mode"] == "stream" and shown["status"] == "COMPLETED"
    assert shown["result"] == events[-1]
    assert shown["events"] == events
    assert request_id in cli(server, "requests", "list", "--app", APP)
    logs = server.client().get(f"/queue/{APP}/requests/{request_id}/status?logs=1").json()
    assert [entry["message"] for entry in logs["logs"]] == [f"chunk {i}" for i in range(5)]


@pytest.fixture
def fal(server, monkeypatch) -> Serve:
    monkeypatch.setenv("FAL_KEY", "local-dev-key")
    monkeypatch.setattr(fal_module, "RUN_URL_FORMAT", f"{server.url}/")
    return server


def test_official_client_stream_sees_every_event_the_last_one_final(fal):
    events = list(fal_client.stream(APP, arguments={"count": 5, "prompt": "x"}))
    assert [e["index"] for e in events] == [0, 1, 2, 3, 4]
    assert events[-1]["partial"] is False
    assert all(e["partial"] for e in events[:-1])


def test_official_client_streams_a_sync_generator_sub_endpoint(fal):
    events = list(fal_client.stream(f"{APP}/sync", arguments={"count": 3}))
    assert [e["text"] for e in events] == ["token0", "token1", "token2"]


def test_a_disconnect_stops_the_generator_within_a_second(server, tmp_path):
    marker = tmp_path / "stopped"
    body = {"count": 100_000, "delay": 0.02, "marker": str(marker)}
    with server.client() as http, http.stream("POST", f"/{APP}/stream", json=body) as response:
        request_id = response.headers["x-fal-request-id"]
        next(iter_sse(response))
        left = time.time()
        response.close()
    wait_for(marker.exists, 30, what="the generator to record that it stopped")
    how, stopped = marker.read_text().split()
    assert how == "cancelled"
    assert float(stopped) - left < 1.0

    def cancelled() -> Any:
        status = server.client().get(f"/queue/{APP}/requests/{request_id}/status").json()
        return status["status"] == "COMPLETED" and status

    assert wait_for(cancelled, 30, what="the request to complete")["error_type"] == (
        "client_cancelled"
    )


def test_sse_whatever_accept_says(server):
    with server.client() as http:
        response = http.post(
            f"/{APP}/stream", json={"count": 2}, headers={"accept": "application/json"}
        )
    assert response.headers["content-type"].startswith("text/event-stream")
    assert [data["index"] for _, data in iter_sse(response)] == [0, 1]


def test_errors_before_the_first_event_are_json_with_their_status(server):
    with server.client() as http:
        refused = http.post(f"/{APP}/stream", json={"fail_before": True})
        invalid = http.post(f"/{APP}/stream", json={"count": "many"})
        unknown = http.post(f"/{APP}/nope/stream", json={})
    assert refused.status_code == 418
    assert refused.headers["content-type"] == "application/json"
    assert refused.json()["detail"] == "refused before the first event"
    assert refused.headers["x-fal-request-id"]
    assert invalid.status_code == 422
    assert invalid.json()["detail"][0]["loc"] == ["body", "count"]
    assert unknown.status_code == 404


def test_an_error_after_the_first_event_ends_the_stream_with_an_error_event(server):
    with server.client() as http:
        response = http.post(f"/{APP}/stream", json={"count": 5, "fail_after": 2})
    events = list(iter_sse(response))
    assert [data["index"] for _, data in events[:2]] == [0, 1]
    name, error = events[-1]
    assert name == "error"
    assert (error["status_code"], error["detail"]) == (418, "failed after 2 events")


def test_a_plain_endpoint_streams_its_output_as_one_event(server):
    with server.client() as http:
        response = http.post(f"/{APP}/plain/stream", json={})
    [(_, data)] = list(iter_sse(response))
    assert data["text"] == "plain"


def test_run_and_queue_on_a_streaming_endpoint_give_the_final_output(server):
    with server.client() as http:
        ran = http.post(f"/{APP}", json={"count": 3})
        submitted = http.post(f"/queue/{APP}", json={"count": 4}).json()

        def done() -> bool:
            status = http.get(submitted["status_url"]).json()
            return status["status"] == "COMPLETED"

        wait_for(done, 60, what="the queued stream to complete")
        result = http.get(submitted["response_url"])
    assert ran.status_code == 200 and ran.json()["index"] == 2
    assert result.json()["index"] == 3 and result.json()["partial"] is False
    shown = json.loads(cli(server, "requests", "show", submitted["request_id"]))
    assert [e["index"] for e in shown["events"]] == [0, 1, 2, 3]


def test_a_runner_that_dies_mid_stream_fails_the_stream_instead_of_replaying_it(server, tmp_path):
    crash = tmp_path / "crash"
    body = {"count": 5, "crash_after": 2, "crash_gate": str(crash)}
    with server.client() as http:
        with http.stream("POST", f"/{APP}/stream", json=body) as response:
            events = []
            for event in iter_sse(response):
                events.append(event)
                if len(events) == 2:
                    crash.touch()  # the runner exits once we hold two events
        after = http.post(f"/{APP}/stream", json={"count": 2})  # a fresh runner takes over
    assert [data["index"] for _, data in events[:-1]] == [0, 1]
    name, error = events[-1]
    assert name == "error"
    assert (error["status_code"], error["error_type"]) == (503, "runner_disconnected")
    assert [data["index"] for _, data in iter_sse(after)] == [0, 1]
