"""Reading a stored file: an open byte range streamed chunk by chunk, and HTTP-style
range checks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from openfal.storage.errors import InvalidRange, StorageError
from openfal.storage.info import FileInfo
from openfal.storage.spool import DEFAULT_CHUNK_SIZE

__all__ = ["ByteStream", "check_range", "resolve_range"]


class ByteStream:
    """An open byte range of one file, read chunk by chunk off the event loop.

    Returned by :meth:`Storage.get`. ``info`` describes the whole file; ``start``/``end``
    are the inclusive bounds actually served (``length == 0`` for an empty file). Iterate
    it with ``async for``; it closes itself when exhausted, and ``aclose()`` (or
    ``async with``) releases the file / connection early, e.g. on a client disconnect.
    """

    def __init__(
        self,
        info: FileInfo,
        start: int,
        end: int,
        read: Callable[[int], bytes],
        close: Callable[[], Any],
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> None:
        self.info = info
        self.start = start
        self.end = end
        self._read = read
        self._close: Callable[[], Any] | None = close
        self._chunk_size = chunk_size
        self._remaining = end - start + 1

    @property
    def length(self) -> int:
        return self.end - self.start + 1

    @property
    def closed(self) -> bool:
        return self._close is None

    def __aiter__(self) -> ByteStream:
        return self

    async def __anext__(self) -> bytes:
        if self._close is None or self._remaining <= 0:
            await self.aclose()
            raise StopAsyncIteration
        try:
            chunk = await asyncio.to_thread(self._read, min(self._chunk_size, self._remaining))
        except BaseException:
            await self.aclose()
            raise
        if not chunk:
            await self.aclose()
            raise StorageError(
                f"{self.info.key!r} ended {self._remaining} bytes early (changed while reading?)"
            )
        self._remaining -= len(chunk)
        return chunk

    async def aclose(self) -> None:
        self._close_now()

    def _close_now(self) -> None:
        close, self._close = self._close, None
        if close is not None:
            close()

    async def read_all(self) -> bytes:
        return b"".join([chunk async for chunk in self])

    async def __aenter__(self) -> ByteStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self._close_now()


def resolve_range(size: int, start: int | None, end: int | None) -> tuple[int, int]:
    """Inclusive ``(start, end)`` within a file of ``size`` bytes, like an HTTP Range.

    ``None`` bounds mean "from the first byte" / "to the last byte"; ``end`` past the file
    is clamped. With no bounds at all an empty file gives ``(0, -1)``; any explicit range
    that starts at or past the end raises :class:`InvalidRange`.
    """
    check_range(start, end)
    if start is None and end is None:
        return 0, size - 1
    first = start or 0
    if first >= size:
        raise InvalidRange(f"range starts at byte {first} of a {size}-byte file")
    last = size - 1 if end is None else min(end, size - 1)
    return first, last


def check_range(start: int | None, end: int | None) -> None:
    for value in (start, end):
        if value is not None and (not isinstance(value, int) or value < 0):
            raise InvalidRange(f"range bounds must be non-negative integers, not {value!r}")
    if start is not None and end is not None and end < start:
        raise InvalidRange(f"range end {end} is before its start {start}")
