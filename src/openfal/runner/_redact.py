"""Secret values never leave a runner in a log line.

The worker names the variables that hold secrets in ``OPENFAL_SECRET_NAMES``; every log
event's text has their values replaced (values under 4 characters are left alone).
"""

from __future__ import annotations

import functools
import os
import re

__all__ = ["redact"]


@functools.cache
def _pattern() -> re.Pattern[str] | None:
    names = [n for n in os.environ.get("OPENFAL_SECRET_NAMES", "").split(",") if n]
    values = sorted(
        {v for n in names if len(v := os.environ.get(n, "")) >= 4}, key=len, reverse=True
    )
    return re.compile("|".join(map(re.escape, values))) if values else None


def redact(text: str) -> str:
    pattern = _pattern()
    return text if pattern is None else pattern.sub("[REDACTED]", text)
