"""The same flows through openfal.client (sync and async) and the official fal_client
(sync and async, pointed with ``use_server``) against a real ``openfal serve``."""

from __future__ import annotations

import httpx
import pytest

from tests.client.flavors import Flavor
from tests.e2e.harness import Serve, wait_for

pytestmark = pytest.mark.e2e

STEPS = "test/steps"
SLEEPER = "test/sleeper"


def _status(server: Serve, app: str, request_id: str) -> dict:
    r = httpx.get(f"{server.url}/queue/{app}/requests/{request_id}/status", timeout=30)
    assert r.status_code in (200, 202), r.text
    return r.json()


def test_run(flavor: Flavor):
    out = flavor.run(STEPS, {"steps": 1, "delay": 0, "tag": "run"})
    assert out == {"steps": 1, "tag": "run"}


def test_submit_status_with_and_without_logs_then_get(flavor: Flavor):
    handle = flavor.submit(STEPS, {"steps": 3, "delay": 0.02, "tag": "q"})
    assert handle.request_id
    assert handle.get() == {"steps": 3, "tag": "q"}

    done = handle.status(with_logs=False)
    assert isinstance(done, flavor.types.Completed)
    assert done.logs is None
    assert "inference_time" in done.metrics

    done = handle.status(with_logs=True)
    assert isinstance(done, flavor.types.Completed)
    assert [e["message"] for e in done.logs] == [f"step {i} of 3 q" for i in (1, 2, 3)]
    assert all(e["level"] == "STDOUT" and e["timestamp"] for e in done.logs)


def test_get_handle_status_and_result_by_id(flavor: Flavor):
    handle = flavor.submit(STEPS, {"steps": 1, "delay": 0, "tag": "id"})
    assert flavor.get_handle(STEPS, handle.request_id) == handle
    wait_for(
        lambda: isinstance(flavor.status(STEPS, handle.request_id), flavor.types.Completed),
        60,
        what="completion",
    )
    with_logs = flavor.status(STEPS, handle.request_id, with_logs=True)
    assert [e["message"] for e in with_logs.logs] == ["step 1 of 1 id"]
    assert flavor.result(STEPS, handle.request_id) == {"steps": 1, "tag": "id"}


def test_subscribe_reports_queued_then_in_progress_then_completed(flavor: Flavor, server: Serve):
    # hold the app's only runner so the subscribed request has to queue first
    busy = httpx.post(
        f"{server.url}/queue/{STEPS}", json={"steps": 20, "delay": 0.1}, timeout=30
    ).json()
    wait_for(
        lambda: _status(server, STEPS, busy["request_id"])["status"] == "IN_PROGRESS",
        60,
        what="the blocking request to start",
    )
    updates: list[object] = []
    enqueued: list[str] = []
    out = flavor.subscribe(
        STEPS,
        {"steps": 3, "delay": 0.05, "tag": "s"},
        with_logs=True,
        on_enqueue=enqueued.append,
        on_queue_update=updates.append,
    )
    assert out == {"steps": 3, "tag": "s"}
    assert len(enqueued) == 1
    kinds = [type(u).__name__ for u in updates]
    assert kinds[0] == "Queued" and kinds[-1] == "Completed"
    assert "InProgress" in kinds
    first_running = kinds.index("InProgress")
    assert set(kinds[:first_running]) == {"Queued"}
    assert set(kinds[first_running:-1]) == {"InProgress"}
    assert [e["message"] for e in updates[-1].logs] == [f"step {i} of 3 s" for i in (1, 2, 3)]


def test_cancel(flavor: Flavor):
    handle = flavor.submit(f"{SLEEPER}/progress", {"seconds": 120})
    wait_for(lambda: isinstance(handle.status(), flavor.types.InProgress), 60, what="it to start")
    flavor.cancel(SLEEPER, handle.request_id)
    done = wait_for(
        lambda: isinstance(s := handle.status(), flavor.types.Completed) and s,
        30,
        what="the cancel to land",
    )
    assert done.error_type == "client_cancelled"
    with pytest.raises(flavor.types.FalClientHTTPError) as e:
        handle.get()
    assert e.value.status_code == 499


def test_validation_error_carries_field_errors(flavor: Flavor):
    for call in (flavor.submit, flavor.run):
        with pytest.raises(flavor.types.FalClientHTTPError) as e:
            call(STEPS, {"steps": 0, "delay": "slow"})
        assert e.value.status_code == 422
        fields = {tuple(err["loc"]) for err in e.value.message}
        assert fields == {("body", "steps"), ("body", "delay")}


def test_client_timeout_cancels_and_raises(flavor: Flavor, server: Serve):
    with pytest.raises(flavor.types.FalClientTimeoutError) as e:
        flavor.subscribe(f"{SLEEPER}/progress", {"seconds": 60}, client_timeout=3)
    assert isinstance(e.value, TimeoutError)
    assert e.value.timeout == 3 and e.value.request_id
    final = wait_for(
        lambda: (s := _status(server, SLEEPER, e.value.request_id))["status"] == "COMPLETED" and s,
        30,
        what="the timed-out request to be cancelled",
    )
    assert final["error_type"] == "client_cancelled"


def test_stream(flavor: Flavor):
    events = list(flavor.stream("test/streamer", {"count": 3, "prompt": "py"}))
    assert [e["text"] for e in events] == ["py0", "py1", "py2"]
    assert [e["partial"] for e in events] == [True, True, False]
    if flavor.name.startswith("openfal"):  # fal_client raises httpx_sse.SSEError instead
        with pytest.raises(flavor.types.FalClientHTTPError) as e:
            list(flavor.stream("test/streamer", {"count": 3, "fail_before": True}))
        assert e.value.status_code == 418
