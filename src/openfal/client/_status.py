"""Request statuses as small typed variants, parsed in one place (PROTOCOL.md §5.2)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Log = dict[str, Any]


@dataclass
class Status:
    """One of :class:`Queued`, :class:`InProgress`, :class:`Completed`."""


@dataclass
class Queued(Status):
    """Waiting in the queue; ``position`` 0 is next."""

    position: int


@dataclass
class InProgress(Status):
    """Running. ``logs`` is the list so far when asked for with ``with_logs``, else None;
    ``progress`` is the app's last report (``{"step", "total", "message"}``) if any."""

    logs: list[Log] | None = field()
    progress: dict[str, Any] | None = None


@dataclass
class Completed(Status):
    """Done: a failed or cancelled request is Completed too, with ``error``/``error_type``."""

    logs: list[Log] | None = field()
    metrics: dict[str, Any] = field()
    error: str | None = None
    error_type: str | None = None


def parse_status(data: Any, logs: list[Log] | None = None) -> Status:
    """A status body as a :class:`Status`; ``logs`` replaces the body's logs when given
    (the status stream sends new lines only and the caller keeps the list)."""
    if not isinstance(data, dict):
        raise ValueError(f"Unexpected status body: {data!r}")
    state = data.get("status")
    body_logs = data.get("logs")
    if logs is not None and body_logs is not None:
        body_logs = list(logs)
    if state == "IN_QUEUE":
        return Queued(position=int(data.get("queue_position") or 0))
    if state == "IN_PROGRESS":
        return InProgress(logs=body_logs, progress=data.get("progress"))
    if state == "COMPLETED":
        return Completed(
            logs=body_logs,
            metrics=data.get("metrics") or {},
            error=data.get("error"),
            error_type=data.get("error_type"),
        )
    raise ValueError(f"Unknown status: {state!r}")
