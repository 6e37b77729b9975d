"""Shared platform state: requests, queue, leases, logs, events, apps, keys, limits and
the webhook outbox."""

from openfal.store.auth import KeyRecord, KeyScope
from openfal.store.base import (
    ACTIVE_STATUSES,
    AppRecord,
    CancelOutcome,
    LogEntry,
    Priority,
    RequestRecord,
    RequestStatus,
    Store,
)
from openfal.store.outbox import WebhookDelivery, WebhookState
from openfal.store.runners import RunnerInfo, SlotState, WorkerInfo

__all__ = [
    "ACTIVE_STATUSES",
    "AppRecord",
    "CancelOutcome",
    "KeyRecord",
    "KeyScope",
    "LogEntry",
    "Priority",
    "RequestRecord",
    "RequestStatus",
    "RunnerInfo",
    "SlotState",
    "Store",
    "WebhookDelivery",
    "WebhookState",
    "WorkerInfo",
]
