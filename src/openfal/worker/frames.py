"""Frames of a runner's event stream: one JSON object per line, lines split on b"\\n" only.

The stream is read as bytes: a text line splitter would also break on U+2028, U+2029 or
U+0085, which JSON allows raw inside strings. A frame that is not a JSON object of a known
type is a protocol error of that one request, never a reason to replace the runner.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

from openfal.errors import OpenfalError

__all__ = ["FRAME_TYPES", "RunnerProtocolError", "iter_frames", "parse_frame"]

FRAME_TYPES = frozenset({"log", "progress", "event", "result"})


class RunnerProtocolError(OpenfalError):
    """A runner sent something that is not a frame of the event protocol."""


def parse_frame(line: bytes) -> dict[str, Any]:
    """One line of the stream as an event record; RunnerProtocolError if it is not one."""
    try:
        frame = json.loads(line)
    except ValueError as e:  # UnicodeDecodeError is one too
        raise RunnerProtocolError(f"undecodable frame ({e}): {_preview(line)}") from e
    except RecursionError as e:
        raise RunnerProtocolError(f"frame nested too deep: {_preview(line)}") from e
    if not isinstance(frame, dict) or frame.get("type") not in FRAME_TYPES:
        raise RunnerProtocolError(f"unexpected frame: {_preview(line)}")
    if frame["type"] == "result" and type(frame.get("status_code", 200)) is not int:
        raise RunnerProtocolError(f"result frame without a status code: {_preview(line)}")
    return frame


async def iter_frames(chunks: AsyncIterable[bytes]) -> AsyncIterator[dict[str, Any]]:
    """The frames of a byte stream, in order; blank lines are skipped."""
    pending = bytearray()
    async for chunk in chunks:
        searched = len(pending)  # a big frame arrives in many chunks: scan each byte once
        pending += chunk
        end = pending.find(b"\n", searched)
        while end >= 0:
            line = bytes(pending[:end])
            del pending[: end + 1]
            if line.strip():
                yield parse_frame(line)
            end = pending.find(b"\n")
    if pending.strip():
        yield parse_frame(bytes(pending))


def _preview(line: bytes, limit: int = 120) -> str:
    text = line[:limit].decode("utf-8", "backslashreplace")
    return repr(text + ("…" if len(line) > limit else ""))
