"""The request record and its parts: statuses, priorities, log entries, and the row
form the backends store it in."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from enum import Enum, IntEnum
from typing import Any


class RequestStatus(str, Enum):
    IN_QUEUE = "IN_QUEUE"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"


ACTIVE_STATUSES = frozenset({RequestStatus.IN_QUEUE, RequestStatus.IN_PROGRESS})


class Priority(IntEnum):
    """Lower runs first. Direct ``run``/``stream`` calls use HIGH."""

    HIGH = 0
    NORMAL = 1
    LOW = 2

    @classmethod
    def parse(cls, value: str | None) -> Priority:
        if value is None or value == "":
            return cls.NORMAL
        try:
            return {"high": cls.HIGH, "normal": cls.NORMAL, "low": cls.LOW}[value.lower()]
        except KeyError:
            raise ValueError(f"invalid queue priority {value!r}: use 'normal' or 'low'") from None


class CancelOutcome(str, Enum):
    CANCELLED = "CANCELLED"  # was queued: completed at once
    REQUESTED = "CANCELLATION_REQUESTED"  # running: the worker will stop it
    ALREADY_COMPLETED = "ALREADY_COMPLETED"
    NOT_FOUND = "NOT_FOUND"


@dataclass(frozen=True)
class LogEntry:
    message: str
    level: str = "INFO"
    source: str = "USER"
    timestamp: str = ""

    def to_json(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class RequestRecord:
    id: str
    app_id: str
    path: str  # endpoint path without leading slash, "" for the root endpoint
    input: bytes  # raw JSON body as submitted
    status: RequestStatus = RequestStatus.IN_QUEUE
    priority: int = Priority.NORMAL
    seq: int = 0  # FIFO order within a priority; assigned by enqueue
    mode: str = "queue"  # "queue" | "run" | "stream"
    owner: str | None = None
    created_at: float = 0.0
    started_at: float | None = None
    completed_at: float | None = None
    start_deadline: float | None = None  # epoch seconds: must be claimed before this
    webhook_url: str | None = None
    hint: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # forwarded to the runner
    attempts: int = 0
    worker_id: str | None = None
    lease_expires: float | None = None
    cancel_requested: bool = False
    progress: dict[str, Any] | None = None
    status_code: int | None = None
    result: bytes | None = None  # response body
    result_headers: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    error_type: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def is_done(self) -> bool:
        return self.status is RequestStatus.COMPLETED

    @property
    def succeeded(self) -> bool:
        return self.is_done and self.error_type is None and (self.status_code or 200) < 400


# Columns that hold JSON-encodable dicts (used by backends that serialise records).
JSON_FIELDS = ("headers", "progress", "result_headers", "metrics")


_FIELD_NAMES = tuple(f.name for f in fields(RequestRecord))
_FIELD_SET = frozenset(_FIELD_NAMES)


_STATUSES = {s.value: s for s in RequestStatus}
_NO_FIELDS: dict[str, Any] = {}


def _dumps(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value) if value else "{}"


def _loads(value: str | bytes) -> Any:
    return {} if value == "{}" else json.loads(value)


def evolve(rec: RequestRecord, **changes: Any) -> RequestRecord:
    """``dataclasses.replace`` for the hot path: a copy with ``changes`` (field names,
    values of the field's type), without running the frozen dataclass's __init__."""
    if not changes.keys() <= _FIELD_SET:
        raise TypeError(f"not RequestRecord fields: {sorted(changes.keys() - _FIELD_SET)}")
    new = object.__new__(RequestRecord)
    data = vars(new)
    data.update(vars(rec))
    data.update(changes)
    return new


def record_to_row(rec: RequestRecord) -> dict[str, Any]:
    # not asdict(): it deep-copies every dict, and the JSON fields are serialised anyway
    row = dict(vars(rec))
    row["status"] = rec.status.value
    for name in JSON_FIELDS:
        row[name] = _dumps(row[name])
    row["cancel_requested"] = int(rec.cancel_requested)
    return row


def row_to_record(row: dict[str, Any]) -> RequestRecord:
    data = dict(row)
    data["status"] = _STATUSES[data["status"]]
    for name in JSON_FIELDS:
        value = data.get(name)
        if type(value) is str or type(value) is bytes:
            data[name] = _loads(value)
        elif value is None and name != "progress":
            data[name] = {}
    data["cancel_requested"] = bool(data["cancel_requested"])
    for name in ("input", "result"):
        if type(data.get(name)) is memoryview:
            data[name] = bytes(data[name])
    if len(data) != len(_FIELD_NAMES):
        return RequestRecord(**data)  # missing fields take their defaults
    # every field is here: fill the frozen record without its (slow) __init__
    rec = object.__new__(RequestRecord)
    vars(rec).update(data)
    return rec
