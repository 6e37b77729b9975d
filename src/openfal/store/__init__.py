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

__all__ = [
    "ACTIVE_STATUSES",
    "AppRecord",
    "CancelOutcome",
    "LogEntry",
    "Priority",
    "RequestRecord",
    "RequestStatus",
    "Store",
]
