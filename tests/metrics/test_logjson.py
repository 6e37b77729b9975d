"""``--log-format json``: the server's own lines and uvicorn's are JSON objects."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from openfal.logjson import JsonFormatter
from tests.e2e.conftest import serve  # noqa: F401
from tests.e2e.harness import Serve


def test_a_record_becomes_one_json_object() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        exc = sys.exc_info()
    record = logging.LogRecord("openfal.x", logging.WARNING, __file__, 1, "a %s", ("b",), exc)
    record.request_id = "r-1"
    line = JsonFormatter().format(record)
    data = json.loads(line)
    assert data["level"] == "WARNING" and data["logger"] == "openfal.x"
    assert data["message"] == "a b" and data["request_id"] == "r-1"
    assert "ValueError: boom" in data["exception"] and "\n" not in line


def test_serve_with_json_logs(serve: Any) -> None:  # noqa: F811
    s: Serve = serve("echo", args=["--log-format", "json"])
    with s.client() as c:
        assert c.post("/openfal/echo", json={"message": "hi"}).status_code == 200
    s.stop()
    lines = [line for line in s.logs().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines if line.startswith("{")]
    loggers = {r["logger"] for r in records}
    assert {"openfal", "uvicorn.error"} <= loggers, lines
    assert any("openfal serving on" in r["message"] for r in records)
    text = [line for line in lines if not line.startswith("{")]
    assert not [line for line in text if " INFO openfal" in line or " INFO uvicorn" in line], text
