"""Prometheus metrics of one process (``GET /metrics``), names prefixed ``openfal_``.

Counters and histograms are updated where things happen, by the small hooks below (one
increment or observation each, no I/O, safe on the hot path). Gauges that describe
shared state (queue depth, runners, webhook outbox) are read from the store when
``/metrics`` is scraped (see :mod:`openfal.metrics.scrape`).

In ``openfal serve`` one process counts everything. In a cluster each gateway and each
worker counts what it did itself (requests finish on the worker that ran them, so
``openfal_requests_total`` summed over every process is the cluster's total).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prometheus_client import Counter, Gauge, Histogram

if TYPE_CHECKING:
    from openfal.store import RequestRecord

# seconds, from a quick echo to a long generation
_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
_STORE_SECONDS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)

REQUESTS = Counter(
    "openfal_requests",
    "Requests that finished, by app, endpoint, mode (queue, run, stream) and final status "
    "(success, an error_type such as client_cancelled or request_timeout, or http_<code>)",
    ["app", "endpoint", "mode", "status"],
)
QUEUE_WAIT = Histogram(
    "openfal_request_queue_seconds",
    "Seconds from submit to start (the claim by a worker), per app",
    ["app"],
    buckets=_SECONDS,
)
RUN_TIME = Histogram(
    "openfal_request_run_seconds",
    "Seconds from start to completion, per app",
    ["app"],
    buckets=_SECONDS,
)
QUEUE_DEPTH = Gauge("openfal_queue_depth", "Requests waiting in the queue, per app", ["app"])
IN_PROGRESS = Gauge("openfal_requests_in_progress", "Requests running now, per app", ["app"])
RUNNERS = Gauge(
    "openfal_runners", "Live runners by app and state (STARTING, READY, STOPPING)", ["app", "state"]
)
COLD_STARTS = Counter("openfal_cold_starts", "Runners started (process spawn to healthy)", ["app"])
COLD_START_TIME = Histogram(
    "openfal_cold_start_seconds",
    "Seconds from spawning a runner to its first healthy answer (setup included), per app",
    ["app"],
    buckets=_SECONDS,
)
WEBHOOKS = Counter(
    "openfal_webhook_deliveries",
    "Webhook delivery tries by outcome: delivered, retry (failed, will retry), "
    "failed (gave up) or refused (URL not allowed)",
    ["outcome"],
)
OUTBOX_DEPTH = Gauge(
    "openfal_webhook_outbox_depth", "Webhook deliveries waiting to be tried (PENDING)"
)
STORE_TIME = Histogram(
    "openfal_store_operation_seconds",
    "Latency of store operations made by this process, by operation",
    ["operation"],
    buckets=_STORE_SECONDS,
)


def final_status(rec: RequestRecord) -> str:
    if rec.error_type:
        return rec.error_type
    if rec.status_code is not None and rec.status_code >= 400:
        return f"http_{rec.status_code}"
    return "success"


_children: dict[tuple[Any, ...], Any] = {}  # labels() resolves its arguments on every call


def _child(metric: Any, *labels: str) -> Any:
    key = (metric, *labels)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*labels)
    return child


def request_started(rec: RequestRecord) -> None:
    if rec.started_at is not None:
        _child(QUEUE_WAIT, rec.app_id).observe(max(rec.started_at - rec.created_at, 0.0))


def request_finished(rec: RequestRecord) -> None:
    _child(REQUESTS, rec.app_id, "/" + rec.path, rec.mode, final_status(rec)).inc()
    if rec.started_at is not None and rec.completed_at is not None:
        _child(RUN_TIME, rec.app_id).observe(max(rec.completed_at - rec.started_at, 0.0))


def cold_start(app_id: str, seconds: float) -> None:
    COLD_STARTS.labels(app_id).inc()
    COLD_START_TIME.labels(app_id).observe(seconds)


def webhook_try(outcome: str) -> None:
    WEBHOOKS.labels(outcome).inc()


__all__ = [
    "cold_start",
    "final_status",
    "request_finished",
    "request_started",
    "webhook_try",
]
