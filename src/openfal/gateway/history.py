"""The request history as JSON, and the query words it takes (no I/O).

Shared by ``GET /rest/requests`` and ``openfal requests list --json``, so both show a
request the same way. Times are ISO 8601 in UTC; durations are seconds.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime
from typing import Any

from openfal.errors import OpenfalError
from openfal.store import LogEntry, RequestRecord, RequestStatus, WebhookDelivery
from openfal.store.history import Cursor

MAX_LIMIT = 1000
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class QueryError(OpenfalError, ValueError):
    """A history query parameter that does not parse; the message names it."""

    status_code = 400
    error_type = "bad_request"


def iso(t: float | None) -> str | None:
    if t is None:
        return None
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_time(name: str, raw: str, now: float) -> float:
    """Epoch seconds, ISO 8601 (``2026-12-03T19:00:00Z``, naive = UTC) or an age such as
    ``90s``, ``15m``, ``2h``, ``7d`` (that long before ``now``)."""
    text = raw.strip()
    if m := _DURATION.match(text):
        return now - float(m.group(1)) * _UNIT[m.group(2)]
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(
            f"Invalid {name} {raw!r}: use epoch seconds, ISO 8601 or an age like 15m, 2h, 7d"
        ) from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def parse_status(raw: str) -> RequestStatus:
    try:
        return RequestStatus(raw.strip().upper())
    except ValueError:
        names = ", ".join(s.value for s in RequestStatus)
        raise QueryError(f"Invalid status {raw!r}: use one of {names}") from None


def parse_limit(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_LIMIT:
        raise QueryError(f"Invalid limit {raw!r}: use a whole number from 1 to {MAX_LIMIT}")
    return value


def encode_cursor(cursor: Cursor | None) -> str | None:
    if cursor is None:
        return None
    raw = f"{cursor[0]!r}:{cursor[1]}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(raw: str) -> Cursor:
    try:
        text = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)).decode()
        created, _, seq = text.partition(":")
        return (float(created), int(seq))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise QueryError(f"Invalid cursor {raw!r}: pass next_cursor from a previous page") from None


def _seconds(start: float | None, end: float | None) -> float | None:
    return round(end - start, 6) if start is not None and end is not None else None


def summary(rec: RequestRecord) -> dict[str, Any]:
    """One request in a listing."""
    return {
        "request_id": rec.id,
        "app_id": rec.app_id,
        "endpoint": "/".join(p for p in (rec.app_id, rec.path) if p),
        "path": "/" + rec.path,
        "mode": rec.mode,
        "status": rec.status.value,
        "status_code": rec.status_code,
        "error": rec.error,
        "error_type": rec.error_type,
        "owner": rec.owner,
        "attempts": rec.attempts,
        "created_at": iso(rec.created_at),
        "started_at": iso(rec.started_at),
        "completed_at": iso(rec.completed_at),
        "queue_seconds": _seconds(rec.created_at, rec.started_at),
        "run_seconds": _seconds(rec.started_at, rec.completed_at),
    }


def body(raw: bytes | None) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def detail(
    rec: RequestRecord,
    logs: list[LogEntry],
    events: list[bytes],
    webhook: WebhookDelivery | None,
) -> dict[str, Any]:
    """Everything about one request: input, output, logs, events, timings, attempts,
    webhook deliveries."""
    return {
        **summary(rec),
        "input": body(rec.input),
        "output": body(rec.result),
        "progress": rec.progress,
        "logs": [e.to_json() for e in logs],
        "events": [body(e) for e in events],
        "timings": {
            "created_at": iso(rec.created_at),
            "started_at": iso(rec.started_at),
            "completed_at": iso(rec.completed_at),
            "queue_seconds": _seconds(rec.created_at, rec.started_at),
            "run_seconds": _seconds(rec.started_at, rec.completed_at),
            "total_seconds": _seconds(rec.created_at, rec.completed_at),
            "metrics": rec.metrics,
        },
        "attempts": {
            "count": rec.attempts,
            "worker_id": rec.worker_id,
            "cancel_requested": rec.cancel_requested,
        },
        "webhook": webhook.public() if webhook is not None else None,
    }
