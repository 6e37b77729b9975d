"""Pieces every server process shares: logging, the event loop, uvicorn, the file sweeper."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

import uvicorn
from starlette.applications import Starlette

from openfal import logjson
from openfal.gateway.routes.realtime import HandshakeLogFilter
from openfal.storage import Storage

log = logging.getLogger("openfal")

SHARED_STORES = ("redis://", "rediss://", "unix://", "sqlite://")


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per runner call is noise
    # realtime tokens travel in websocket URLs: keep them out of uvicorn's handshake lines
    logging.getLogger("uvicorn.error").addFilter(HandshakeLogFilter())
    logjson.apply()


def run_async(main: Coroutine[Any, Any, Any]) -> Any:
    try:
        import uvloop  # installed with uvicorn[standard]; a faster event loop
    except ImportError:  # pragma: no cover
        return asyncio.run(main)
    return uvloop.run(main)


def shared_store_url(url: str, command: str) -> str:
    """A store another process can share: a gateway or worker alone is useless on
    ``memory://``."""
    if not url.startswith(SHARED_STORES) or url in ("sqlite://", "sqlite:///:memory:"):
        raise SystemExit(
            f"openfal {command}: --store must be shared with the other gateways and workers: "
            f"redis://HOST:PORT/DB (or sqlite:///PATH on one machine), not {url!r}"
        )
    return url


async def sweep_storage(storage: Storage, interval: float) -> None:
    """Delete expired uploads every ``interval`` seconds until cancelled."""
    while True:
        try:
            deleted = await storage.sweep()
            if deleted:
                log.info("storage sweep removed %d expired files", deleted)
        except Exception:
            log.exception("storage sweep failed")
        await asyncio.sleep(interval)


def uvicorn_server(app: Starlette, host: str, port: int, log_level: str) -> uvicorn.Server:
    return uvicorn.Server(
        uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=log_level,
            lifespan="off",
            access_log=False,
            timeout_graceful_shutdown=5,
            # JSON logs: uvicorn's loggers propagate to the root logger's JSON handler
            log_config=None if logjson.json_logs() else uvicorn.config.LOGGING_CONFIG,
        )
    )
