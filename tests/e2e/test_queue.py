"""The queue lifecycle through a real ``openfal serve`` and real runner processes."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.e2e.harness import wait_for

pytestmark = pytest.mark.e2e


def submit(c: httpx.Client, app: str, body: dict[str, Any], **kw: Any) -> dict[str, Any]:
    r = c.post(f"/queue/{app}", json=body, **kw)
    assert r.status_code == 200, r.text
    return r.json()


def status(c: httpx.Client, sub: dict[str, Any], logs: bool = False) -> dict[str, Any]:
    r = c.get(sub["status_url"], params={"logs": "1" if logs else "0"})
    assert r.status_code in (200, 202), r.text
    return r.json()


def wait_completed(c: httpx.Client, sub: dict[str, Any], timeout: float = 60) -> dict[str, Any]:
    return wait_for(
        lambda: (s := status(c, sub)) and s["status"] == "COMPLETED" and s,
        timeout,
        what=f"{sub['request_id']} to complete",
    )


def test_lifecycle_queue_progress_logs_result(serve):
    s = serve("steps")
    with s.client() as c:
        # the runner is cold, so the first requests wait in the queue with positions
        subs = [
            submit(c, "test/steps", {"steps": 6, "delay": 0.3, "tag": f"r{i}"}) for i in range(3)
        ]
        first = subs[0]
        assert set(first) >= {
            "request_id",
            "response_url",
            "status_url",
            "cancel_url",
            "queue_position",
        }
        assert (
            first["status_url"] == f"{s.url}/queue/test/steps/requests/{first['request_id']}/status"
        )
        queued = status(c, subs[2])
        assert queued["status"] == "IN_QUEUE"
        assert queued["queue_position"] >= 1
        assert "logs" not in queued

        running = wait_for(
            lambda: (
                (st := status(c, first, logs=True))["status"] == "IN_PROGRESS"
                and st.get("progress")
                and st["logs"]
                and st
            ),
            60,
            what="IN_PROGRESS with logs and progress",
        )
        assert running["progress"]["total"] == 6
        assert running["progress"]["message"].startswith("step ")
        line = running["logs"][0]
        assert line["message"] == "step 1 of 6 r0"
        assert line["level"] == "STDOUT" and line["source"] == "USER" and "T" in line["timestamp"]

        done = wait_completed(c, first)
        assert done["logs"] is None  # not asked for
        assert done["metrics"]["inference_time"] > 0
        with_logs = status(c, first, logs=True)
        assert [e["message"] for e in with_logs["logs"]] == [
            f"step {i} of 6 r0" for i in range(1, 7)
        ]

        r = c.get(first["response_url"])
        assert r.status_code == 200
        assert r.json() == {"steps": 6, "tag": "r0"}
        assert r.headers["x-fal-request-id"] == first["request_id"]
        for sub in subs[1:]:
            wait_completed(c, sub)
            assert c.get(sub["response_url"]).json()["tag"] == sub_tag(subs, sub)


def sub_tag(subs: list[dict[str, Any]], sub: dict[str, Any]) -> str:
    return f"r{subs.index(sub)}"


def test_direct_run_and_status_stream(serve):
    s = serve("steps")
    with s.client() as c:
        r = c.post("/test/steps", json={"steps": 2, "delay": 0, "tag": "direct"})
        assert r.status_code == 200, r.text
        assert r.json() == {"steps": 2, "tag": "direct"}
        assert r.headers["x-fal-request-id"]

        sub = submit(c, "test/steps", {"steps": 3, "delay": 0.1, "tag": "sse"})
        events = []
        with c.stream("GET", sub["status_url"] + "/stream", params={"logs": "1"}) as resp:
            assert resp.headers["content-type"].startswith("text/event-stream")
            for line in resp.iter_lines():
                if line.startswith("data: "):
                    events.append(httpx.Response(200, content=line[6:]).json())
        assert events[-1]["status"] == "COMPLETED"  # and the stream closed after it
        logs = [e["message"] for ev in events for e in (ev.get("logs") or [])]
        assert logs == [f"step {i} of 3 sse" for i in (1, 2, 3)]


def test_validation_unknown_app_and_path(serve):
    s = serve("steps")
    with s.client() as c:
        r = c.post("/queue/test/steps", json={"steps": "many"})
        assert r.status_code == 422
        detail = r.json()["detail"]
        assert detail[0]["loc"] == ["body", "steps"] and detail[0]["type"]
        assert c.get("/rest/apps").status_code == 200
        assert len(c_requests(s)) == 0  # nothing was queued

        r = c.post("/queue/nobody/nothing", json={})
        assert r.status_code == 404
        assert "nobody/nothing" in r.json()["detail"]
        r = c.post("/queue/test/steps/no-such-path", json={})
        assert r.status_code == 404
        r = c.post(
            "/queue/test/steps", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert r.status_code == 400 and r.json()["error_type"] == "bad_request"
        r = c.post("/queue/test/steps", content=b"x" * (65 * 1024 * 1024))
        assert r.status_code == 413
        r = c.get("/queue/test/steps/requests/00000000-0000-0000-0000-000000000000/status")
        assert r.status_code == 404


def c_requests(s) -> list[Any]:
    import subprocess
    import sys

    from openfal.cli.main import main  # noqa: F401 - the CLI must import cleanly

    out = subprocess.run(
        [sys.executable, "-m", "openfal", "requests", "list", "--data-dir", str(s.data_dir)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line for line in out.splitlines() if "test/steps" in line]


def test_cancel_queued_and_running(serve):
    s = serve("sleeper")
    with s.client() as c:
        running = submit(c, "test/sleeper", {"seconds": 120})
        queued = submit(c, "test/sleeper", {"seconds": 1})
        wait_for(lambda: status(c, running)["status"] == "IN_PROGRESS", 60, what="running")

        r = c.put(queued["cancel_url"])
        assert r.status_code == 202 and r.json() == {"status": "CANCELLATION_REQUESTED"}
        st = status(c, queued)
        assert st["status"] == "COMPLETED" and st["error_type"] == "client_cancelled"

        t0 = time.monotonic()
        assert c.put(running["cancel_url"]).status_code == 202
        st = wait_completed(c, running, timeout=10)
        assert time.monotonic() - t0 < 2.0, "a sleeping app must stop within 2 s"
        assert st["error_type"] == "client_cancelled"
        r = c.get(running["response_url"])
        assert r.status_code == 499 and r.json()["error_type"] == "client_cancelled"
        assert r.headers["x-fal-error-type"] == "client_cancelled"
        assert c.put(running["cancel_url"]).status_code == 400  # ALREADY_COMPLETED

        # a progress-reporting loop stops at its next step, without a restart
        looping = submit(c, "test/sleeper/progress", {"seconds": 120})
        wait_for(lambda: status(c, looping)["status"] == "IN_PROGRESS", 60, what="running")
        assert c.put(looping["cancel_url"]).status_code == 202
        assert wait_completed(c, looping, timeout=10)["error_type"] == "client_cancelled"


def test_request_timeout_and_start_timeout(serve):
    s = serve("timeout", "sleeper")
    with s.client() as c:
        sub = submit(c, "test/timeout", {"seconds": 30})
        st = wait_completed(c, sub)
        assert st["error_type"] == "request_timeout"
        r = c.get(sub["response_url"])
        assert r.status_code == 504 and r.json()["error_type"] == "request_timeout"

        # start timeout: a request that cannot start within X-Fal-Request-Timeout
        busy = submit(c, "test/sleeper", {"seconds": 120})
        late = submit(c, "test/sleeper", {"seconds": 0}, headers={"X-Fal-Request-Timeout": "1.2"})
        wait_for(lambda: status(c, busy)["status"] == "IN_PROGRESS", 60, what="running")
        c.put(busy["cancel_url"])
        st = wait_completed(c, late)
        assert st["error_type"] == "request_timeout"
        r = c.get(late["response_url"])
        assert r.status_code == 504
        assert r.headers["x-fal-request-timeout-type"] == "user"
        r = c.post("/queue/test/sleeper", json={}, headers={"X-Fal-Request-Timeout": "soon"})
        assert r.status_code == 400 and "X-Fal-Request-Timeout" in r.json()["detail"]
