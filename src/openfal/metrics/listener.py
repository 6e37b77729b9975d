"""A worker's own ``/metrics`` listener (``openfal worker --metrics-port``).

A few lines of HTTP/1.0 on ``asyncio.start_server`` rather than a second uvicorn: the
worker keeps its own signal handlers (drain on SIGTERM), and Prometheus needs nothing
more than ``GET /metrics``.
"""

from __future__ import annotations

import asyncio
import logging

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from openfal.metrics.scrape import refresh
from openfal.store import Store

log = logging.getLogger("openfal.metrics")


def _response(status: str, body: bytes, content_type: str = "text/plain") -> bytes:
    head = (
        f"HTTP/1.0 {status}\r\ncontent-type: {content_type}\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode() + body


async def _answer(store: Store, worker_id: str, request_line: bytes) -> bytes:
    parts = request_line.decode("latin-1").split()
    if len(parts) < 2 or parts[0] not in ("GET", "HEAD"):
        return _response("405 Method Not Allowed", b"GET /metrics\n")
    if parts[1].split("?")[0] != "/metrics":
        return _response("404 Not Found", b"GET /metrics\n")
    try:
        await refresh(store, worker_id=worker_id)
    except Exception as e:  # the counters are still worth answering with
        log.warning("metrics: reading the store failed: %s: %s", type(e).__name__, e)
    body = generate_latest()
    return _response("200 OK", b"" if parts[0] == "HEAD" else body, CONTENT_TYPE_LATEST)


async def serve_metrics(store: Store, worker_id: str, host: str, port: int) -> asyncio.Server:
    """Serve ``GET /metrics`` on ``host:port`` until the returned server is closed."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request_line = await asyncio.wait_for(reader.readline(), 10)
            while (await asyncio.wait_for(reader.readline(), 10)) not in (b"\r\n", b"\n", b""):
                pass  # headers: nothing in them matters here
            writer.write(await _answer(store, worker_id, request_line))
            await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, host, port)
    log.info("worker metrics on http://%s:%d/metrics", host, port)
    return server
