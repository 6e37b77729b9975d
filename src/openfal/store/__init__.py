"""Shared platform state: requests, queue, leases, logs, events and apps."""

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
from openfal.store.runners import RunnerInfo, SlotState, WorkerInfo

__all__ = [
    "ACTIVE_STATUSES",
    "AppRecord",
    "CancelOutcome",
    "LogEntry",
    "Priority",
    "RequestRecord",
    "RequestStatus",
    "RunnerInfo",
    "SlotState",
    "Store",
    "WorkerInfo",
]
