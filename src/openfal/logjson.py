"""Structured logs: ``--log-format json`` (setting ``log_format``, or ``OPENFAL_LOG_FORMAT``)
writes one JSON object per line instead of text, for log shippers.

Each line has ``time`` (ISO 8601, UTC), ``level``, ``logger`` and ``message``, plus
``exception`` when there is a traceback and any ``request_id`` / ``app_id`` / ``runner_id``
a log call passed in ``extra``. uvicorn's lines go through the same formatter.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

FORMATS = ("text", "json")
_state = {"json": False}
_EXTRA = ("request_id", "app_id", "runner_id", "worker_id")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in _EXTRA:
            if hasattr(record, name):
                data[name] = getattr(record, name)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


def json_logs() -> bool:
    """Whether this process logs JSON (uvicorn servers started later follow it)."""
    return _state["json"]


def apply(log_format: str) -> None:
    """Switch the root logger's handlers to JSON lines for ``log_format == "json"``."""
    _state["json"] = log_format == "json"
    if _state["json"]:
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonFormatter())
