"""Crashes, restarts and scaling with real processes."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.e2e.harness import Serve, wait_for
from tests.e2e.test_queue import status, submit, wait_completed

pytestmark = pytest.mark.e2e


def test_runner_killed_mid_request_completes_on_fresh_runner(serve, tmp_path: Path):
    s = serve("killable")
    pid_file = tmp_path / "runner.pid"
    with s.client() as c:
        sub = submit(c, "test/killable", {"pid_file": str(pid_file), "seconds": 60})
        pid = int(
            wait_for(
                lambda: pid_file.exists() and pid_file.read_text(),
                60,
                what="the runner to start the request",
            )
        )
        os.kill(pid, signal.SIGKILL)
        st = wait_completed(c, sub)
        assert "error_type" not in st, st
        out = c.get(sub["response_url"]).json()
        assert out["first_attempt"] is False and out["pid"] != pid


def test_kill9_serve_with_50_queued_then_all_complete(tmp_path: Path):
    s = Serve(tmp_path / "data", ["steps"]).start()
    try:
        with s.client() as c:
            subs = [
                submit(c, "test/steps", {"steps": 1, "delay": 0.2, "tag": f"n{i}"})
                for i in range(50)
            ]
            wait_for(lambda: status(c, subs[0])["status"] != "IN_QUEUE", 60, what="a start")
        s.kill9()
        s.start()  # same data dir: the SQLite store is the source of truth
        with s.client() as c:
            for i, sub in enumerate(subs):
                st = wait_completed(c, sub, timeout=120)
                assert "error_type" not in st, st
                assert c.get(sub["response_url"]).json() == {"steps": 1, "tag": f"n{i}"}
    finally:
        s.stop()


def test_scale_to_zero_after_keep_alive_then_cold_start(serve):
    s = serve("ephemeral")
    with s.client() as c:
        first = c.post("/test/ephemeral", json={}).json()["pid"]
        wait_for(lambda: c.get("/rest/runners").json() == [], 30, what="scale to zero")
        with pytest.raises(ProcessLookupError):
            wait_for(lambda: os.kill(first, 0), 10, what="the runner process to exit")
        second = c.post("/test/ephemeral", json={}).json()["pid"]
        assert second != first


def test_concurrency_limits_hold_under_20_concurrent_requests(serve):
    """max_concurrency=2 runners, max_multiplexing=3 requests each."""
    import concurrent.futures

    s = serve("overlap")
    with s.client() as c, concurrent.futures.ThreadPoolExecutor(20) as pool:
        outs = list(
            pool.map(lambda _: c.post("/test/overlap", json={"seconds": 0.3}).json(), range(20))
        )
    assert len({o["pid"] for o in outs}) <= 2
    points = sorted(
        [(o["start"], 1, o["pid"]) for o in outs] + [(o["end"], -1, o["pid"]) for o in outs],
        key=lambda p: (p[0], p[1]),
    )
    per_pid: dict[int, int] = {}
    total = peak_total = 0
    for _, delta, pid in points:
        per_pid[pid] = per_pid.get(pid, 0) + delta
        total += delta
        peak_total = max(peak_total, total)
        assert per_pid[pid] <= 3, "max_multiplexing exceeded"
    assert peak_total <= 6
    assert peak_total >= 2  # and it did run requests side by side


def test_app_whose_setup_fails_answers_queued_requests(serve):
    s = serve("fails_setup")
    with s.client() as c:
        app_id = c.get("/rest/apps").json()[0]["app_id"]
        sub = submit(c, app_id, {})
        st = wait_completed(c, sub, timeout=90)
        assert st["error_type"] == "runner_scheduling_failure"
        r = c.get(sub["response_url"])
        assert r.status_code == 503 and "failed to start" in r.json()["detail"]
