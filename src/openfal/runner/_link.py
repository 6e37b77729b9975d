"""The worker link: one long-lived connection carrying many requests as framed messages.

A frame is a 4-byte big-endian length, then that many bytes of msgpack: one map with a
``type`` and the request ``id`` (docs/runner-protocol.md, "The worker link"). The worker
sends ``run`` and ``cancel``; the runner answers each run with its ``log``, ``progress``
and ``event`` frames and, last, its ``result``. Outputs and results travel as JSON bytes,
serialised once here and stored as they are.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import struct
from typing import Any

import msgpack

from openfal.runner._active import ActiveRequest, DuplicateRequest
from openfal.runner._events import (
    Event,
    LogEvent,
    OutputEvent,
    ProgressEvent,
    ResultEvent,
)
from openfal.runner._runner import Runner

__all__ = ["HEADER", "MAX_FRAME", "encode", "serve_link"]

logger = logging.getLogger("openfal.runner")

HEADER = struct.Struct(">I")
MAX_FRAME = 1 << 31  # bytes: a frame can carry a large input or output


def encode(message: dict[str, Any]) -> bytes:
    """One frame: the length, then the msgpack map."""
    data: bytes = msgpack.packb(message, use_bin_type=True)
    return HEADER.pack(len(data)) + data


async def read_frame(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """The next frame's map; None at a clean end of the connection."""
    try:
        head = await reader.readexactly(HEADER.size)
    except asyncio.IncompleteReadError as e:
        if e.partial:
            raise ConnectionError("link closed inside a frame header") from e
        return None
    (size,) = HEADER.unpack(head)
    data = await reader.readexactly(size)
    message = msgpack.unpackb(data, raw=False)
    if not isinstance(message, dict):
        raise ValueError(f"a link frame must be a map, not {type(message).__name__}")
    return message


async def serve_link(runner: Runner, path: str) -> asyncio.AbstractServer:
    """Listen on the Unix socket ``path`` for the worker's connection."""

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _Connection(runner, reader, writer).serve()

    return await asyncio.start_unix_server(connected, path=path)


def _json(value: Any) -> bytes:
    return json.dumps(value, default=str).encode()


def _frame(request_id: str, event: Event) -> dict[str, Any]:
    if isinstance(event, LogEvent):
        return {
            "type": "log",
            "id": request_id,
            "level": event.level,
            "message": event.message,
            "source": event.source,
            "timestamp": event.timestamp,
        }
    if isinstance(event, ProgressEvent):
        return {
            "type": "progress",
            "id": request_id,
            "step": event.step,
            "total": event.total,
            "message": event.message,
        }
    if isinstance(event, OutputEvent):
        return {"type": "event", "id": request_id, "data": _json(event.data)}
    return {
        "type": "result",
        "id": request_id,
        "status_code": event.status_code,
        "body": _json(event.body),
        "error_type": event.error_type,
        "inference_time": event.inference_time,
    }


class _Connection:
    """One worker connection: the requests it started and the frames it is owed."""

    def __init__(
        self, runner: Runner, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.runner, self.reader, self.writer = runner, reader, writer
        self.started: dict[str, ActiveRequest] = {}
        self.relays: set[asyncio.Task[None]] = set()
        self._unsent: list[bytes] = []  # frames of this loop tick, written when it ends

    def _write(self, message: dict[str, Any]) -> None:
        """Frames written in one loop tick leave together: one send, one wake-up of the
        worker, however many requests finished in that tick."""
        if not self._unsent:
            asyncio.get_running_loop().call_soon(self._flush)
        self._unsent.append(encode(message))

    def _flush(self) -> None:
        frames, self._unsent = self._unsent, []
        if not self.writer.is_closing():
            self.writer.write(b"".join(frames))

    def _buffered(self) -> int:
        return self.writer.transport.get_write_buffer_size() + sum(map(len, self._unsent))

    async def serve(self) -> None:
        try:
            while (message := await read_frame(self.reader)) is not None:
                self._on_message(message)
        except (ConnectionError, OSError, asyncio.IncompleteReadError):
            pass  # the worker went away
        except Exception:
            logger.exception("the worker link sent something unreadable: closing it")
        finally:
            for active in list(self.started.values()):
                active.cancel()  # nobody is left to read its result
            for task in list(self.relays):
                task.cancel()
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()

    def _on_message(self, message: dict[str, Any]) -> None:
        kind, request_id = message.get("type"), str(message.get("id", ""))
        if kind == "run":
            self._start(request_id, message)
        elif kind == "cancel":
            active = self.runner.requests.get(request_id)
            if active is not None:
                active.cancel()
        else:
            logger.warning("the worker link sent an unknown message type %r", kind)

    def _start(self, request_id: str, message: dict[str, Any]) -> None:
        path = str(message.get("path", ""))
        if path not in self.runner.endpoints:
            self._refuse(request_id, 404, f"Path /{path} not found")
            return
        headers = {str(k): str(v) for k, v in (message.get("headers") or {}).items()}
        body = message.get("body") or b""
        try:
            active, task = self.runner.start(path, request_id, headers, bytes(body), True)
        except DuplicateRequest:
            self._refuse(request_id, 409, f"Request {request_id} is already running here")
            return
        self.started[request_id] = active
        relay = asyncio.create_task(self._relay(request_id, active, task))
        self.relays.add(relay)
        relay.add_done_callback(self.relays.discard)

    def _refuse(self, request_id: str, status: int, detail: str) -> None:
        result = ResultEvent(status, {"detail": detail})
        self._write(_frame(request_id, result))

    async def _relay(
        self, request_id: str, active: ActiveRequest, task: asyncio.Task[ResultEvent]
    ) -> None:
        assert active.events is not None
        try:
            while True:
                event = await active.events.get()
                self._write(_frame(request_id, event))
                if isinstance(event, ResultEvent):
                    break
                if self._buffered() > 1 << 20:
                    self._flush()
                    await self.writer.drain()
        finally:
            self.started.pop(request_id, None)
            if not task.done():
                active.cancel()
