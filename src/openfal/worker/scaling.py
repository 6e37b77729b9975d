"""How many runners an app needs: the app settings the supervisor scales by.

Demand is the app's queue depth plus its requests in progress anywhere in the cluster; each
runner serves up to ``max_multiplexing`` of them at once, ``concurrency_buffer`` runners
more are kept warm, and the count stays within ``min_concurrency`` and ``max_concurrency``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any


@dataclass(frozen=True)
class ScalingSettings:
    """The app settings the supervisor acts on (see ``openfal.App``)."""

    keep_alive: float = 300.0
    min_concurrency: int = 0
    max_concurrency: int = 2
    concurrency_buffer: int = 0
    scaling_delay: float = 0.0
    max_multiplexing: int = 1
    request_timeout: float | None = None
    startup_timeout: float = 600.0

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> ScalingSettings:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in settings.items() if k in known and v is not None}
        s = cls(**values)
        if s.max_concurrency < 1 or s.max_multiplexing < 1:
            raise ValueError("max_concurrency and max_multiplexing must be at least 1")
        return s

    def runners_needed(self, demand: int) -> int:
        needed = math.ceil(demand / self.max_multiplexing) + self.concurrency_buffer
        return max(self.min_concurrency, min(self.max_concurrency, needed))
