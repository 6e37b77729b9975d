"""Writing a file: what ``put`` accepts (:data:`Data`), checked, hashed and spooled to a
local temp file off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO, TypeAlias

from openfal.storage.errors import UploadTooLarge

__all__ = ["DEFAULT_CHUNK_SIZE", "Data", "Spooled", "as_bytes", "check_data", "is_path", "spool"]

# What ``put``/``put_part`` accept: the bytes themselves, an async stream of chunks, or the
# path of a local file to copy (``str`` is a path, never content).
Data: TypeAlias = bytes | bytearray | memoryview | AsyncIterable[bytes] | str | os.PathLike[str]

DEFAULT_CHUNK_SIZE = 1024 * 1024  # bytes per chunk yielded by get() and written by put()


@dataclass
class Spooled:
    """Data written to a local temp file by :func:`spool`."""

    path: Path
    size: int
    md5: str  # hex


def is_path(data: object) -> bool:
    return isinstance(data, str | os.PathLike)


def as_bytes(data: object) -> bytes | memoryview | None:
    if isinstance(data, bytes):
        return data
    if isinstance(data, bytearray | memoryview):
        view = memoryview(data)
        return view.cast("B") if view.c_contiguous else view.tobytes()
    return None


def check_data(data: Data) -> None:
    if as_bytes(data) is None and not is_path(data) and not isinstance(data, AsyncIterable):
        raise TypeError(
            "data must be bytes, an async iterator of bytes or a file path, "
            f"not {type(data).__name__}"
        )


def md5() -> Any:
    return hashlib.md5(usedforsecurity=False)


def _copy_into(
    dst: IO[bytes], src: IO[bytes], hasher: Any, limit: int | None, size: int, chunk: int
) -> int:
    while True:
        block = src.read(chunk)
        if not block:
            return size
        size += len(block)
        if limit is not None and size > limit:
            raise UploadTooLarge(limit, size)
        hasher.update(block)
        dst.write(block)


async def _write_stream(
    data: AsyncIterable[Any], out: IO[bytes], hasher: Any, limit: int | None, chunk_size: int
) -> int:
    """Hash and write ``data`` to ``out`` in a thread, ``chunk_size`` bytes at a time.

    Double-buffered: one batch is hashed and written while the next is received, so the
    network and the disk work at the same time. Returns the number of bytes written.
    """

    def flush(blocks: list[bytes]) -> None:
        for block in blocks:
            hasher.update(block)
            out.write(block)

    writing: asyncio.Future[None] | None = None
    pending: list[bytes] = []
    pending_size = size = 0
    try:
        async for chunk in data:
            block = as_bytes(chunk)
            if block is None:
                raise TypeError(f"data chunks must be bytes, not {type(chunk).__name__}")
            size += len(block)
            if limit is not None and size > limit:
                raise UploadTooLarge(limit, size)
            pending.append(bytes(block))
            pending_size += len(block)
            if pending_size >= chunk_size:
                if writing is not None:
                    await writing
                writing = asyncio.ensure_future(asyncio.to_thread(flush, pending))
                pending, pending_size = [], 0
        if writing is not None:
            await writing
        writing = None
        if pending:
            await asyncio.to_thread(flush, pending)
    finally:
        if writing is not None:  # an error while a batch was being written: let it finish
            await asyncio.gather(writing, return_exceptions=True)
    return size


async def spool(
    data: Data,
    directory: str | os.PathLike[str] | None,
    *,
    limit: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    fsync: bool = False,
) -> Spooled:
    """Write ``data`` to a new temp file in ``directory``, streaming, off the event loop.

    Raises :class:`UploadTooLarge` as soon as more than ``limit`` bytes were seen (reading
    no further); the temp file is removed on any error.
    """
    check_data(data)
    raw = as_bytes(data)
    if raw is not None and limit is not None and len(raw) > limit:
        raise UploadTooLarge(limit, len(raw))
    if directory is not None:
        await asyncio.to_thread(os.makedirs, directory, exist_ok=True)

    def open_temp() -> tuple[BinaryIO, Path]:
        fd, name = tempfile.mkstemp(prefix=".spool-", suffix=".tmp", dir=directory)
        return os.fdopen(fd, "wb"), Path(name)

    out, path = await asyncio.to_thread(open_temp)
    hasher = md5()
    size = 0
    try:
        if raw is not None:

            def write_all() -> None:
                hasher.update(raw)
                out.write(raw)

            await asyncio.to_thread(write_all)
            size = len(raw)
        elif is_path(data):

            def copy_file() -> int:
                with open(os.fspath(data), "rb") as src:  # type: ignore[arg-type]
                    return _copy_into(out, src, hasher, limit, 0, chunk_size)

            size = await asyncio.to_thread(copy_file)
        else:
            assert isinstance(data, AsyncIterable)
            size = await _write_stream(data, out, hasher, limit, chunk_size)

        def finish() -> None:
            out.flush()
            if fsync:
                os.fsync(out.fileno())
            out.close()

        await asyncio.to_thread(finish)
    except BaseException:
        out.close()
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    return Spooled(path, size, hasher.hexdigest())
