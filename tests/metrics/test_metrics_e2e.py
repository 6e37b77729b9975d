"""``GET /metrics`` of a real ``openfal serve`` after known traffic: every counter and
histogram count is exactly what was sent."""

from __future__ import annotations

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import serve  # noqa: F401
from tests.e2e.harness import Serve, wait_for
from tests.webhooks.conftest import Receiver, receiver  # noqa: F401

ECHO, ERRORS = "openfal/echo", "openfal/errors"


def scrape(c: httpx.Client) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    r = c.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def settled(
    c: httpx.Client, scrape_from: httpx.Client | None = None
) -> tuple[dict[Any, float], list[dict[str, Any]]]:
    """A scrape and the runner list that agree: no runner starting, none started between
    the two reads (the autoscaler may add a spare runner at any time)."""
    found: list[tuple[dict[Any, float], list[dict[str, Any]]]] = []

    def agree() -> bool:
        before = c.get("/rest/runners").json()
        samples = scrape(scrape_from or c)
        after = c.get("/rest/runners").json()

        def ids(runners: list[dict[str, Any]]) -> set[tuple[str, str]]:
            return {(r["runner_id"], r["state"]) for r in runners}

        if ids(before) != ids(after) or any(r["state"] == "STARTING" for r in after):
            return False
        found.append((samples, after))
        return True

    wait_for(agree, 60, what="the runners to settle")
    return found[-1]


def wait_done(c: httpx.Client, status_url: str) -> None:
    wait_for(
        lambda: c.get(status_url).json()["status"] == "COMPLETED", 60, what="the request to end"
    )


def test_metrics_match_the_traffic_exactly(serve: Any, receiver: Receiver) -> None:  # noqa: F811
    s: Serve = serve("echo", "errors", args=["--webhook-allow", "127.0.0.1"])
    with s.client() as c:
        for _ in range(3):
            assert c.post(f"/{ECHO}", json={"message": "hi"}).status_code == 200
        queued = [c.post(f"/queue/{ECHO}", json={"message": "q"}).json() for _ in range(2)]
        hooked = c.post(
            f"/queue/{ECHO}", params={"fal_webhook": f"{receiver.url}/hook"}, json={"message": "w"}
        ).json()
        for sub in (*queued, hooked):
            wait_done(c, sub["status_url"])
        with c.stream("POST", f"/{ECHO}/stream", json={"message": "s"}) as r:
            assert r.status_code == 200
            r.read()
        assert c.post(f"/{ERRORS}/app-error", json={}).status_code == 400
        receiver.next_request(30)
        wait_for(
            lambda: (
                (c.get(f"/rest/requests/{hooked['request_id']}").json()["webhook"] or {}).get(
                    "state"
                )
                == "DELIVERED"
            ),
            30,
            what="the webhook to be delivered",
        )
        errored = c.get("/rest/requests", params={"app_id": ERRORS}).json()["items"][0]
        m, runners = settled(c)  # none stops: keep_alive outlasts the test

    total = "openfal_requests_total"
    assert value(m, total, app=ECHO, endpoint="/", mode="run", status="success") == 3
    assert value(m, total, app=ECHO, endpoint="/", mode="queue", status="success") == 3
    assert value(m, total, app=ECHO, endpoint="/", mode="stream", status="success") == 1
    error_label = errored["error_type"] or f"http_{errored['status_code']}"
    assert value(m, total, app=ERRORS, endpoint="/app-error", mode="run", status=error_label) == 1
    assert sum(v for (name, _), v in m.items() if name == total) == 8

    for hist in ("openfal_request_queue_seconds", "openfal_request_run_seconds"):
        assert value(m, f"{hist}_count", app=ECHO) == 7
        assert value(m, f"{hist}_count", app=ERRORS) == 1
        assert value(m, f"{hist}_bucket", app=ECHO, le="+Inf") == 7

    for app in (ECHO, ERRORS):
        started = sum(1 for r in runners if r["app_id"] == app)
        assert started >= 1
        assert value(m, "openfal_cold_starts_total", app=app) == started
        assert value(m, "openfal_cold_start_seconds_count", app=app) == started
        ready = sum(1 for r in runners if r["app_id"] == app and r["state"] == "READY")
        assert value(m, "openfal_runners", app=app, state="READY") == ready
        assert value(m, "openfal_queue_depth", app=app) == 0
        assert value(m, "openfal_requests_in_progress", app=app) == 0

    assert value(m, "openfal_webhook_deliveries_total", outcome="delivered") == 1
    assert value(m, "openfal_webhook_deliveries_total", outcome="retry") is None
    assert value(m, "openfal_webhook_outbox_depth") == 0
    assert value(m, "openfal_store_operation_seconds_count", operation="enqueue") == 8
    # no claim count to check: a request submitted while its app's dispatcher idles is
    # stored claimed by its enqueue (the handoff); the queue-time histograms above count
    # every start, handed off or claimed
