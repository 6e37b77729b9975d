"""Pieces every server process shares: logging, the event loop, uvicorn, the file sweeper."""

from __future__ import annotations

import asyncio
import gc
import logging
import re
from collections.abc import Coroutine
from typing import Any

import uvicorn
from starlette.applications import Starlette

from openfal import logjson
from openfal.storage import Storage

log = logging.getLogger("openfal")

_TOKEN = re.compile(r"(fal_jwt_token=)[^&\s\"]+")


class HandshakeLogFilter(logging.Filter):
    """For uvicorn's logger: tokens in logged websocket URLs become ``…``, and the error
    uvicorn logs after every refused handshake (it does not count a denial response as
    one) is dropped; the gateway's relay always accepts or refuses."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == "ASGI callable returned without completing handshake.":
            return False
        if isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN.sub(r"\1…", arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True


def setup_logging(level: str, log_format: str = "text") -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per runner call is noise
    # realtime tokens travel in websocket URLs: keep them out of uvicorn's handshake lines
    logging.getLogger("uvicorn.error").addFilter(HandshakeLogFilter())
    logjson.apply(log_format)


def settle_gc() -> None:
    """Once start-up is done: what it made lives on, so keep it out of every collection,
    and collect less often. A request makes no cyclic garbage on the hot path; the default
    threshold (700) collected every few requests just to walk live objects (py-spy, perf
    notes in benchmarks/README.md)."""
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def run_async(main: Coroutine[Any, Any, Any]) -> Any:
    try:
        import uvloop  # installed with uvicorn[standard]; a faster event loop
    except ImportError:  # pragma: no cover
        return asyncio.run(main)
    return uvloop.run(main)


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
