"""Gateway settings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class GatewaySettings:
    max_body_size: int = 64 * 1024 * 1024  # bytes of a JSON request body
    keepalive_interval: float = 15.0  # seconds between SSE comments on quiet streams
    # How long a direct ``run`` call waits before answering 504 (None: as long as it takes).
    run_timeout: float | None = None
    # Browser origins allowed by CORS ("*": any).
    cors_origins: tuple[str, ...] = ("*",)
