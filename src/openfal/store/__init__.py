"""Shared platform state: requests, queue, leases, logs, events, apps, keys, limits and
the webhook outbox."""

from openfal.store.apps import AppRecord
from openfal.store.auth import KeyRecord, KeyScope
from openfal.store.contract import Store
from openfal.store.outbox import WebhookDelivery, WebhookState
from openfal.store.requests import (
    ACTIVE_STATUSES,
    CancelOutcome,
    LogEntry,
    Priority,
    RequestRecord,
    RequestStatus,
)
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
