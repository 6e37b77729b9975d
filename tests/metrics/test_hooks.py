"""The metric hooks in-process: labels, the store's finish/claim hooks, store timing."""

from __future__ import annotations

from dataclasses import replace

from prometheus_client import REGISTRY

from openfal.metrics import final_status
from openfal.metrics.store_timing import instrument
from openfal.store import RequestRecord, Store
from openfal.webhooks.sender import _label


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_final_status_names_the_outcome() -> None:
    base = RequestRecord(id="r", app_id="a", path="", input=b"{}")
    assert final_status(replace(base, status_code=200)) == "success"
    assert final_status(replace(base, status_code=422)) == "http_422"
    assert final_status(replace(base, status_code=499, error_type="x_y")) == "x_y"


def test_webhook_outcome_labels() -> None:
    assert _label(True, None, None) == "delivered"
    assert _label(False, "not allowed", "not allowed") == "refused"
    assert _label(False, None, "gave up after 3 attempt(s)") == "failed"
    assert _label(False, None, None) == "retry"


async def test_store_hooks_count_each_start_and_finish_once() -> None:
    store = instrument(Store.from_url("memory://"))
    assert instrument(store) is store  # once only: timing is not doubled
    await store.open()
    app = "metrics-test/hooks"
    labels = {"app": app, "endpoint": "/x", "mode": "stream"}
    before = {
        "ok": sample("openfal_requests_total", **labels, status="success"),
        "cancel": sample("openfal_requests_total", **labels, status="client_cancelled"),
        "queue": sample("openfal_request_queue_seconds_count", app=app),
        "run": sample("openfal_request_run_seconds_count", app=app),
        "enqueue": sample("openfal_store_operation_seconds_count", operation="enqueue"),
    }
    first = await store.enqueue(app, "x", b"{}", mode="stream")
    second = await store.enqueue(app, "x", b"{}", mode="stream")
    claimed = await store.claim([app], "w")
    assert claimed is not None and claimed.id == first.id
    await store.complete(first.id, status_code=200, body=b"{}")
    await store.complete(first.id, status_code=200, body=b"{}")  # already done: not counted
    await store.cancel(second.id)  # never started: no run time
    await store.close()

    assert sample("openfal_requests_total", **labels, status="success") == before["ok"] + 1
    cancelled = sample("openfal_requests_total", **labels, status="client_cancelled")
    assert cancelled == before["cancel"] + 1
    assert sample("openfal_request_queue_seconds_count", app=app) == before["queue"] + 1
    assert sample("openfal_request_run_seconds_count", app=app) == before["run"] + 1
    enqueues = sample("openfal_store_operation_seconds_count", operation="enqueue")
    assert enqueues == before["enqueue"] + 2
