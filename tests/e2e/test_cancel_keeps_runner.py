"""Cancelling a request whose step outlasts ``--cancel-grace`` stops it at the next step
and keeps the healthy runner: the next request needs no cold start."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.harness import Serve, wait_for

pytestmark = pytest.mark.e2e


def test_a_cancel_during_a_long_step_keeps_the_runner(
    serve: Callable[..., Serve], tmp_path: Path
) -> None:
    server = serve("long_steps", args=["--cancel-grace", "0.2"])
    with server.client() as http:
        first = http.post("/test/long-steps", json={}).json()["pid"]
        marker = tmp_path / "started"
        body = {"steps": 3, "step_seconds": 1.5, "started": str(marker)}
        submitted = http.post("/queue/test/long-steps", json=body).json()
        wait_for(marker.exists, 60, what="the long request to start")
        assert http.put(submitted["cancel_url"]).status_code == 202

        def completed() -> bool:
            status = http.get(submitted["status_url"]).json()
            return status["status"] == "COMPLETED"

        wait_for(completed, 60, what="the cancelled request to complete")
        result = http.get(submitted["response_url"])
        assert result.headers["x-fal-error-type"] == "client_cancelled"
        again = http.post("/test/long-steps", json={}).json()["pid"]
    assert again == first, "the runner was restarted although it was healthy"
