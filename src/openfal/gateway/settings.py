"""Gateway settings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class GatewaySettings:
    # bytes of a JSON request body: larger inputs go as files (uploads take up to 1 GiB);
    # at this size the event loop still answers others within ~200 ms (benchmarks/large_body.py)
    max_body_size: int = 32 * 1024 * 1024
    keepalive_interval: float = 15.0  # seconds between SSE comments on quiet streams
    # How long a direct ``run`` call waits before answering 504 (None: as long as it takes).
    run_timeout: float | None = None
    # Browser origins allowed by CORS ("*": any).
    cors_origins: tuple[str, ...] = ("*",)
