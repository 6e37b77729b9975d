"""The file storage contract: one async interface, many backends.

Files are addressed by opaque *keys* (``<uuid hex>/<safe file name>``, see :func:`new_key`)
and carry a little metadata (:class:`FileInfo`). Use :meth:`Storage.from_url` to get a
backend:

* ``file:///abs/dir`` or ``file://relative/dir`` (or a bare path): :class:`LocalStorage`
* ``s3://bucket[/prefix]``: :class:`S3Storage` (needs the ``s3`` extra: boto3)

Every method validates its key (:func:`validate_key`) and raises only the errors below
(plus ``ValueError``/``TypeError`` for misuse such as a bad ``expires_in``).
Times are seconds since the epoch, as everywhere else in openfal.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import hashlib
import os
import tempfile
from collections.abc import AsyncIterable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, BinaryIO, TypeAlias
from urllib.parse import parse_qsl, urlsplit

from openfal.clock import now as clock_now
from openfal.storage.errors import (
    InvalidRange,
    MultipartError,
    StorageError,
    UploadTooLarge,
)

# What ``put``/``put_part`` accept: the bytes themselves, an async stream of chunks, or the
# path of a local file to copy (``str`` is a path, never content).
Data: TypeAlias = bytes | bytearray | memoryview | AsyncIterable[bytes] | str | os.PathLike[str]

DEFAULT_CHUNK_SIZE = 1024 * 1024  # bytes per chunk yielded by get() and written by put()
DEFAULT_CONTENT_TYPE = "application/octet-stream"
MIN_PART_SIZE = 5 * 1024 * 1024  # S3's minimum size of every multipart part but the last
MAX_PART_NUMBER = 10_000


# ---------------------------------------------------------------------------- records


@dataclass(frozen=True)
class FileInfo:
    key: str
    size: int
    content_type: str
    file_name: str
    etag: str  # opaque, without quotes; md5 hex (``<md5 of md5s>-N`` after a multipart upload)
    created_at: float
    expires_at: float | None = None

    def is_expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now


# ---------------------------------------------------------------------------- streams


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

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
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


# ---------------------------------------------------------------------------- data sources


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


def data_size(data: Data) -> int | None:
    """The size of ``data`` when known without reading it."""
    raw = as_bytes(data)
    if raw is not None:
        return len(raw)
    if is_path(data):
        return os.path.getsize(os.fspath(data))  # type: ignore[arg-type]
    return None


def check_data(data: Data) -> None:
    if as_bytes(data) is None and not is_path(data) and not isinstance(data, AsyncIterable):
        raise TypeError(
            "data must be bytes, an async iterator of bytes or a file path, "
            f"not {type(data).__name__}"
        )


def _md5() -> Any:
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
    hasher = _md5()
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


def multipart_etag(part_etags: list[str]) -> str:
    """S3's etag of a multipart object: md5 of the parts' binary md5s, then ``-N``."""
    digest = _md5()
    for etag in part_etags:
        try:
            digest.update(bytes.fromhex(etag))
        except ValueError:
            digest.update(etag.encode())
    return f"{digest.hexdigest()}-{len(part_etags)}"


def normalize_etag(etag: str) -> str:
    etag = etag.strip()
    if etag.startswith("W/"):
        etag = etag[2:]
    return etag.strip('"')


def sort_parts(parts: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Parts sorted by number with normalized etags; rejects empty/duplicate/bad entries."""
    if not parts:
        raise MultipartError("a multipart upload needs at least one part")
    seen: set[int] = set()
    result: list[tuple[int, str]] = []
    for entry in parts:
        try:
            number, etag = entry
        except (TypeError, ValueError):
            raise MultipartError(
                f"parts must be (part_number, etag) pairs, not {entry!r}"
            ) from None
        check_part_number(number)
        if number in seen:
            raise MultipartError(f"part {number} is listed twice")
        if not isinstance(etag, str) or not normalize_etag(etag):
            raise MultipartError(f"part {number} has no etag")
        seen.add(number)
        result.append((number, normalize_etag(etag)))
    result.sort()
    return result


def check_part_number(number: object) -> int:
    if isinstance(number, bool) or not isinstance(number, int):
        raise MultipartError(f"part numbers must be integers, not {number!r}")
    if not 1 <= number <= MAX_PART_NUMBER:
        raise MultipartError(f"part number {number} is outside 1..{MAX_PART_NUMBER}")
    return number


def check_parts_fit(
    key: str,
    wanted: list[tuple[int, str]],
    uploaded: Mapping[int, Mapping[str, int]],
    min_part_size: int,
) -> int:
    """Check that every wanted part was uploaded with that etag; return the total size.

    ``uploaded`` maps part number to ``{etag: size}`` (a backend may report several
    versions of a re-uploaded part: the wanted etag picks one). Every part but the last
    must be at least ``min_part_size`` bytes, as on S3.
    """
    sizes: list[int] = []
    for number, etag in wanted:
        versions = {normalize_etag(e): size for e, size in uploaded.get(number, {}).items()}
        if not versions:
            raise MultipartError(f"part {number} of {key!r} was never uploaded")
        if etag not in versions:
            raise MultipartError(
                f"part {number} of {key!r} has etag {', '.join(sorted(versions))}, not {etag!r}"
            )
        sizes.append(versions[etag])
    for (number, _), size in zip(wanted[:-1], sizes[:-1], strict=True):
        if size < min_part_size:
            raise MultipartError(
                f"part {number} of {key!r} is {size} bytes: every part but the last "
                f"must be at least {min_part_size} bytes"
            )
    return sum(sizes)


# ---------------------------------------------------------------------------- interface


class Storage(abc.ABC):
    """Where uploaded inputs and generated outputs live. Use :meth:`from_url` to get one.

    All methods are coroutines and never block the event loop.
    """

    #: every multipart part but the last must be at least this big
    min_part_size: int = MIN_PART_SIZE

    def __init__(
        self,
        *,
        max_size: int | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        min_part_size: int = MIN_PART_SIZE,
        stale_after: float = 24 * 3600.0,
    ) -> None:
        if max_size is not None and max_size < 0:
            raise ValueError("max_size must be >= 0")
        if chunk_size < 1:
            raise ValueError("chunk_size must be >= 1")
        self.max_size = max_size
        self.chunk_size = chunk_size
        self.min_part_size = min_part_size
        self.stale_after = stale_after  # sweep() drops unfinished uploads/temp files this old

    # ------------------------------------------------------------------ factory

    @staticmethod
    def from_url(url: str, **kwargs: Any) -> Storage:
        """``file:///abs/dir``, ``file://relative/dir`` (or a bare path), ``s3://bucket[/prefix]``.

        S3 options come from keyword arguments, then the URL's query string
        (``?endpoint=...&region=...&path_style=1``), then the environment
        (``OPENFAL_S3_ENDPOINT``, ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
        ``AWS_REGION``/``AWS_DEFAULT_REGION``, ``OPENFAL_S3_PATH_STYLE``). Other keyword
        arguments (``max_size``, ``chunk_size``, ...) go to the backend.
        """
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme == "file" or (scheme == "" and url):
            from openfal.storage.local import LocalStorage

            root = url[len("file://") :] if scheme == "file" else url
            if not root or root == "/":
                raise ValueError(f"storage URL {url!r} names no directory")
            return LocalStorage(root, **kwargs)
        if scheme == "s3":
            if not parts.netloc:
                raise ValueError(f"storage URL {url!r} names no bucket")
            try:
                from openfal.storage.s3 import S3Storage
            except ImportError as e:
                raise RuntimeError(
                    "S3 storage needs the 's3' extra (boto3): pip install 'openfal[s3]'"
                ) from e
            query = dict(parse_qsl(parts.query))
            aliases = {"endpoint": "endpoint_url", "region_name": "region"}
            for name, value in query.items():
                option = aliases.get(name, name)
                if option not in ("endpoint_url", "region", "path_style"):
                    raise ValueError(f"unknown option {name!r} in storage URL")
                kwargs.setdefault(option, value)
            if isinstance(kwargs.get("path_style"), str):
                kwargs["path_style"] = parse_bool(kwargs["path_style"])
            return S3Storage(parts.netloc, parts.path.strip("/"), **kwargs)
        raise ValueError(f"unknown storage URL {url!r}: use file:///DIR or s3://BUCKET[/PREFIX]")

    async def open(self) -> None:  # noqa: B027 - optional hook
        """Create directories / check the bucket. Idempotent; optional."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release clients and connections."""

    async def __aenter__(self) -> Storage:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ------------------------------------------------------------------ files

    @abc.abstractmethod
    async def put(
        self,
        key: str,
        data: Data,
        *,
        content_type: str = DEFAULT_CONTENT_TYPE,
        file_name: str | None = None,
        expires_at: float | None = None,
    ) -> FileInfo:
        """Store ``data`` under ``key`` (replacing any file there), all or nothing.

        ``file_name`` defaults to the key's last segment. Raises :class:`UploadTooLarge`
        past ``max_size``.
        """

    @abc.abstractmethod
    async def get(self, key: str, start: int | None = None, end: int | None = None) -> ByteStream:
        """Open bytes ``start..end`` (inclusive, like HTTP Range) of the file for streaming.

        Awaiting it raises :class:`FileNotFound` / :class:`InvalidRange` before any byte is
        sent; iterate the result with ``async for``.
        """

    async def read(self, key: str, start: int | None = None, end: int | None = None) -> bytes:
        """The bytes of ``get(key, start, end)``, in memory: for small files only."""
        async with await self.get(key, start, end) as stream:
            return await stream.read_all()

    @abc.abstractmethod
    async def stat(self, key: str) -> FileInfo | None:
        """The file's metadata, or ``None`` if there is no file under ``key``."""

    @abc.abstractmethod
    async def delete(self, key: str) -> bool:
        """Remove the file; ``True`` if there was one."""

    async def exists(self, key: str) -> bool:
        return await self.stat(key) is not None

    @abc.abstractmethod
    async def presigned_url(self, key: str, expires_in: float = 3600) -> str | None:
        """A URL that serves the file directly for ``expires_in`` seconds, or ``None`` if the
        backend cannot make one (local disk: serve it through the gateway)."""

    # ------------------------------------------------------------------ multipart

    @abc.abstractmethod
    async def create_multipart(
        self,
        key: str,
        content_type: str = DEFAULT_CONTENT_TYPE,
        file_name: str | None = None,
        expires_at: float | None = None,
    ) -> str:
        """Start a multipart upload; returns its upload id."""

    @abc.abstractmethod
    async def put_part(self, key: str, upload_id: str, part_number: int, data: Data) -> str:
        """Store part ``part_number`` (1..10000; re-uploading replaces it); returns its etag."""

    @abc.abstractmethod
    async def complete_multipart(
        self, key: str, upload_id: str, parts: list[tuple[int, str]]
    ) -> FileInfo:
        """Join ``parts`` (``(part_number, etag)`` in any order) into the file under ``key``.

        Raises :class:`MultipartError` for an unknown upload, a part that was never uploaded
        or whose etag differs, or a part but the last under :attr:`min_part_size`.
        """

    @abc.abstractmethod
    async def abort_multipart(self, key: str, upload_id: str) -> None:
        """Drop an unfinished upload and its parts. Unknown ids are ignored."""

    # ------------------------------------------------------------------ expiry

    @abc.abstractmethod
    async def expired(self, now: float | None = None) -> list[str]:
        """Keys whose ``expires_at`` is at or before ``now`` (default: the clock)."""

    async def sweep(self, now: float | None = None) -> int:
        """Delete expired files (and stale unfinished uploads); returns files deleted."""
        now = clock_now() if now is None else now
        deleted = 0
        for key in await self.expired(now):
            info = await self.stat(key)
            if info is not None and info.is_expired(now) and await self.delete(key):
                deleted += 1
        await self._sweep_stale(now)
        return deleted

    async def _sweep_stale(self, now: float) -> None:  # noqa: B027 - optional hook
        """Remove unfinished multipart uploads / temp files older than ``stale_after``."""

    # ------------------------------------------------------------------ helpers

    def _check_size(self, size: int | None) -> None:
        if self.max_size is not None and size is not None and size > self.max_size:
            raise UploadTooLarge(self.max_size, size)


def parse_bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {value!r}")
