"""What ``GET /metrics`` answers: the process's counters plus gauges read from the store
at scrape time, in Prometheus' text format."""

from __future__ import annotations

import logging
from collections import Counter as Tally

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from openfal.metrics import IN_PROGRESS, OUTBOX_DEPTH, QUEUE_DEPTH, RUNNERS
from openfal.store import Store, WebhookState

log = logging.getLogger("openfal.metrics")

OUTBOX_CAP = 10_000  # the outbox gauge counts up to this many pending deliveries


async def refresh(store: Store, *, worker_id: str | None = None) -> None:
    """Set the gauges from the store: every app's queue, and the runners (all of them, or
    one worker's)."""
    apps = [a.app_id for a in await store.list_apps()]
    QUEUE_DEPTH.clear()
    IN_PROGRESS.clear()
    for app_id in apps:
        QUEUE_DEPTH.labels(app_id).set(await store.queue_depth(app_id))
        IN_PROGRESS.labels(app_id).set(await store.in_progress(app_id))
    runners = [
        r for r in await store.list_runners() if worker_id is None or r.worker_id == worker_id
    ]
    RUNNERS.clear()
    for (app_id, state), n in Tally((r.app_id, r.state.value) for r in runners).items():
        RUNNERS.labels(app_id, state).set(n)
    pending = await store._list_webhooks(WebhookState.PENDING, OUTBOX_CAP)
    OUTBOX_DEPTH.set(len(pending))


def exposition() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def metrics(request: Request) -> Response:
    """The gateway's ``/metrics``."""
    try:
        worker_id = getattr(request.app.state, "metrics_worker", None)
        await refresh(request.app.state.store, worker_id=worker_id)
    except Exception as e:  # the counters are still worth answering with
        log.warning("metrics: reading the store failed: %s: %s", type(e).__name__, e)
    return exposition()


def metrics_app(store: Store, worker_id: str) -> Starlette:
    """The small HTTP app a worker serves its ``/metrics`` on (``--metrics-port``)."""
    app = Starlette(routes=[Route("/metrics", metrics, methods=["GET"])])
    app.state.store = store
    app.state.metrics_worker = worker_id
    return app


__all__ = ["metrics", "metrics_app", "refresh"]
