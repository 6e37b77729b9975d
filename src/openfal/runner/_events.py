"""Typed records a runner streams to the dispatcher in event mode, one JSON object a line."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from openfal.runner._redact import redact

__all__ = [
    "Event",
    "LogEvent",
    "OutputEvent",
    "ProgressEvent",
    "ResultEvent",
    "json_line_safe",
    "now",
    "timestamp",
    "to_line",
]

# Characters that some line splitters (str.splitlines, httpx's aiter_lines) treat as line ends
# although JSON allows them raw inside strings. They are written escaped, so that one JSON
# document is always exactly one line for every reader.
_LINE_BREAKS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029", "\u0085": "\\u0085"})


def now() -> datetime:
    """The current UTC time; the one clock of the runner, so tests can patch it."""
    return datetime.now(UTC)


def timestamp(moment: datetime | None = None) -> str:
    """ISO-8601 with microseconds and the UTC offset: 2026-11-21T10:00:00.123456+00:00."""
    return (moment or now()).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class LogEvent:
    """One line of app output or one logging record."""

    level: str  # STDOUT, STDERR, or a logging level name (DEBUG, INFO, WARN, ERROR)
    message: str
    source: str = "USER"
    timestamp: str = field(default_factory=timestamp)
    type: Literal["log"] = "log"

    def __post_init__(self) -> None:
        object.__setattr__(self, "message", redact(self.message))  # no secret in any log


@dataclass(frozen=True)
class ProgressEvent:
    """A `report_progress(step, total, message)` call."""

    step: int
    total: int
    message: str | None = None
    type: Literal["progress"] = "progress"


@dataclass(frozen=True)
class OutputEvent:
    """One item a streaming endpoint yielded (JSON-ready); the last one is also the result."""

    data: Any
    type: Literal["event"] = "event"


@dataclass(frozen=True)
class ResultEvent:
    """How the request ended; always the last line of an event stream."""

    status_code: int
    body: Any
    error_type: str | None = None
    inference_time: float | None = None
    type: Literal["result"] = "result"


Event = LogEvent | ProgressEvent | OutputEvent | ResultEvent


def to_line(event: Event) -> bytes:
    """The event as one NDJSON line, `type` first."""
    record = asdict(event)
    ordered = {"type": record.pop("type"), **record}
    return (json_line_safe(ordered) + "\n").encode()


def json_line_safe(value: Any) -> str:
    """``value`` as JSON text with no character any line splitter would break on."""
    return json.dumps(value, ensure_ascii=False, default=str).translate(_LINE_BREAKS)
