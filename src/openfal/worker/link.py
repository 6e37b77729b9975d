"""The worker's end of a runner link: one Unix-socket connection per runner that carries
every request dispatched to it as length-prefixed msgpack frames (docs/runner-protocol.md).

Each request gets a queue of its frames; the reader task routes frames by request id. When
the connection ends, every request still open on it hears :class:`LinkLost` (the runner
died: the dispatcher requeues them).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import AsyncIterator, Mapping
from typing import Any

import msgpack

from openfal.errors import OpenfalError
from openfal.worker.frames import FRAME_TYPES, RunnerProtocolError

__all__ = ["LinkLost", "RunnerLink"]

log = logging.getLogger("openfal.worker")

_HEADER = struct.Struct(">I")
_CLOSED = object()  # queued for every open request when the connection ends


class LinkLost(OpenfalError, ConnectionError):
    """The connection to the runner ended while a request was open on it."""


class RunnerLink:
    """A connected link to one runner, shared by all its requests."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer
        self._open: dict[str, asyncio.Queue[Any]] = {}
        self._unsent: list[bytes] = []  # frames of this loop tick, written when it ends
        self._closed: str | None = None  # why, once closed
        self._task = asyncio.create_task(self._read(), name="openfal-runner-link")

    @classmethod
    async def connect(cls, path: str) -> RunnerLink:
        reader, writer = await asyncio.open_unix_connection(path)
        return cls(reader, writer)

    @property
    def closed(self) -> bool:
        return self._closed is not None

    async def run(
        self, request_id: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> AsyncIterator[dict[str, Any]]:
        """Start a request; yield its frames up to and including its result.

        Raises LinkLost if the connection ends first, RunnerProtocolError for a frame that
        is not one of the protocol's (the runner keeps serving the others).
        """
        if self._closed is not None:
            raise LinkLost(self._closed)
        if request_id in self._open:
            raise RunnerProtocolError(f"request {request_id} is already open on this link")
        queue: asyncio.Queue[Any] = asyncio.Queue()
        self._open[request_id] = queue
        try:
            self._send(
                {
                    "type": "run",
                    "id": request_id,
                    "path": path,
                    "headers": dict(headers),
                    "body": body,
                }
            )
            while True:
                frame = await queue.get()
                if frame is _CLOSED:
                    raise LinkLost(self._closed or "link closed")
                _check(frame)
                yield frame
                if frame["type"] == "result":
                    return
        finally:
            if self._open.get(request_id) is queue:
                del self._open[request_id]

    def cancel(self, request_id: str) -> None:
        """Ask the runner to stop a request (best effort: a closed link is a no-op)."""
        if self._closed is None:
            self._send({"type": "cancel", "id": request_id})

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._end("link closed by the worker")

    def _send(self, message: dict[str, Any]) -> None:
        """Frames sent in one loop tick leave together: one send, one wake-up of the
        runner, however many requests started in that tick."""
        data = msgpack.packb(message, use_bin_type=True)
        if not self._unsent:
            asyncio.get_running_loop().call_soon(self._flush)
        self._unsent += (_HEADER.pack(len(data)), data)

    def _flush(self) -> None:
        frames, self._unsent = self._unsent, []
        if self._closed is None:
            self._writer.write(b"".join(frames))

    async def _read(self) -> None:
        reason = "runner closed the link"
        try:
            while True:
                head = await self._reader.readexactly(_HEADER.size)
                data = await self._reader.readexactly(_HEADER.unpack(head)[0])
                self._route(data)
        except asyncio.IncompleteReadError:
            pass
        except (ConnectionError, OSError) as e:
            reason = f"{type(e).__name__}: {e}"
        finally:
            self._end(reason)

    def _route(self, data: bytes) -> None:
        try:
            frame = msgpack.unpackb(data, raw=False)
        except Exception as e:  # the length prefix still says where the next frame starts
            log.warning("runner link: undecodable frame (%s) dropped", e)
            return
        request_id = frame.get("id") if isinstance(frame, dict) else None
        queue = self._open.get(request_id) if isinstance(request_id, str) else None
        if queue is None:
            log.debug("runner link: frame for no open request dropped: %.120r", frame)
            return
        queue.put_nowait(frame)

    def _end(self, reason: str) -> None:
        if self._closed is None:
            self._closed = reason
        self._writer.close()
        for queue in self._open.values():
            queue.put_nowait(_CLOSED)


def _check(frame: Any) -> None:
    kind = frame.get("type")
    if kind not in FRAME_TYPES:
        raise RunnerProtocolError(f"unexpected frame type {kind!r}")
    if kind == "result" and type(frame.get("status_code")) is not int:
        raise RunnerProtocolError("result frame without a status code")
    for name in ("body", "data"):
        if name in frame and not isinstance(frame[name], bytes):
            raise RunnerProtocolError(f"{kind} frame whose {name} is not JSON bytes")
