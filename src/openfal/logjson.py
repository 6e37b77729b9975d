"""Structured logs: ``--log-format json`` (or ``OPENFAL_LOG_FORMAT=json``) writes one JSON
object per line instead of text, for log shippers.

Each line has ``time`` (ISO 8601, UTC), ``level``, ``logger`` and ``message``, plus
``exception`` when there is a traceback and any ``request_id`` / ``app_id`` / ``runner_id``
a log call passed in ``extra``. uvicorn's lines go through the same formatter.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, datetime

ENV = "OPENFAL_LOG_FORMAT"
FORMATS = ("text", "json")
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
    return os.environ.get(ENV, "text").strip().lower() == "json"


def apply() -> None:
    """Switch the root logger's handlers to JSON lines when asked to."""
    if json_logs():
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonFormatter())
