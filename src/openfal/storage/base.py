"""The file storage contract: one async interface, many backends.

Files are addressed by opaque *keys* (``<uuid hex>/<safe file name>``, see
:func:`openfal.filekeys.new_key`) and carry a little metadata (:class:`FileInfo`). Use
:meth:`Storage.from_url` to get a backend:

* ``file:///abs/dir`` or ``file://relative/dir`` (or a bare path): :class:`LocalStorage`
* ``s3://bucket[/prefix]``: :class:`S3Storage` (needs the ``s3`` extra: boto3)

The public methods check their arguments (key, range, part number, data) once, here, and
call the backend's hook of the same name with a leading underscore. They raise only the
errors of :mod:`openfal.storage.errors` (plus ``ValueError``/``TypeError`` for misuse such
as a bad ``expires_in``). Times are seconds since the epoch, as everywhere else in openfal.

The other concerns live beside this module: :mod:`~openfal.storage.streams` (reading),
:mod:`~openfal.storage.spool` (writing), :mod:`~openfal.storage.multipart` (parts).
"""

from __future__ import annotations

import abc
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from openfal.clock import now as clock_now
from openfal.filekeys import validate_key
from openfal.storage.errors import UploadTooLarge
from openfal.storage.info import FileInfo
from openfal.storage.multipart import MIN_PART_SIZE, check_part_number, sort_parts
from openfal.storage.spool import DEFAULT_CHUNK_SIZE, Data, check_data
from openfal.storage.streams import ByteStream, check_range

__all__ = ["DEFAULT_CONTENT_TYPE", "FileInfo", "Storage", "parse_bool"]

DEFAULT_CONTENT_TYPE = "application/octet-stream"


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

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ files
    # Public methods check their arguments, once for every backend, then call the
    # backend's hook of the same name with a leading underscore.

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
        check_data(data)
        return await self._put(
            validate_key(key),
            data,
            content_type=content_type,
            file_name=file_name,
            expires_at=expires_at,
        )

    async def get(self, key: str, start: int | None = None, end: int | None = None) -> ByteStream:
        """Open bytes ``start..end`` (inclusive, like HTTP Range) of the file for streaming.

        Awaiting it raises :class:`FileNotFound` / :class:`InvalidRange` before any byte is
        sent; iterate the result with ``async for``.
        """
        check_range(start, end)
        return await self._get(validate_key(key), start, end)

    async def read(self, key: str, start: int | None = None, end: int | None = None) -> bytes:
        """The bytes of ``get(key, start, end)``, in memory: for small files only."""
        async with await self.get(key, start, end) as stream:
            return await stream.read_all()

    async def stat(self, key: str) -> FileInfo | None:
        """The file's metadata, or ``None`` if there is no file under ``key``."""
        return await self._stat(validate_key(key))

    async def delete(self, key: str) -> bool:
        """Remove the file; ``True`` if there was one."""
        return await self._delete(validate_key(key))

    async def exists(self, key: str) -> bool:
        return await self.stat(key) is not None

    async def presigned_url(self, key: str, expires_in: float = 3600) -> str | None:
        """A URL that serves the file directly for ``expires_in`` seconds, or ``None`` if the
        backend cannot make one (local disk: serve it through the gateway)."""
        return await self._presigned_url(validate_key(key), expires_in)

    # ------------------------------------------------------------------ multipart

    async def create_multipart(
        self,
        key: str,
        content_type: str = DEFAULT_CONTENT_TYPE,
        file_name: str | None = None,
        expires_at: float | None = None,
    ) -> str:
        """Start a multipart upload; returns its upload id."""
        return await self._create_multipart(validate_key(key), content_type, file_name, expires_at)

    async def put_part(self, key: str, upload_id: str, part_number: int, data: Data) -> str:
        """Store part ``part_number`` (1..10000; re-uploading replaces it); returns its etag."""
        check_part_number(part_number)
        check_data(data)
        return await self._put_part(validate_key(key), upload_id, part_number, data)

    async def complete_multipart(
        self, key: str, upload_id: str, parts: list[tuple[int, str]]
    ) -> FileInfo:
        """Join ``parts`` (``(part_number, etag)`` in any order) into the file under ``key``.

        Raises :class:`MultipartError` for an unknown upload, a part that was never uploaded
        or whose etag differs, or a part but the last under :attr:`min_part_size`.
        """
        validate_key(key)
        return await self._complete_multipart(key, upload_id, sort_parts(parts))

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        """Drop an unfinished upload and its parts. Unknown ids are ignored."""
        await self._abort_multipart(validate_key(key), upload_id)

    # ------------------------------------------------------------------ backend hooks

    @abc.abstractmethod
    async def _put(
        self,
        key: str,
        data: Data,
        *,
        content_type: str,
        file_name: str | None,
        expires_at: float | None,
    ) -> FileInfo: ...

    @abc.abstractmethod
    async def _get(self, key: str, start: int | None, end: int | None) -> ByteStream: ...

    @abc.abstractmethod
    async def _stat(self, key: str) -> FileInfo | None: ...

    @abc.abstractmethod
    async def _delete(self, key: str) -> bool: ...

    @abc.abstractmethod
    async def _presigned_url(self, key: str, expires_in: float) -> str | None: ...

    @abc.abstractmethod
    async def _create_multipart(
        self, key: str, content_type: str, file_name: str | None, expires_at: float | None
    ) -> str: ...

    @abc.abstractmethod
    async def _put_part(self, key: str, upload_id: str, part_number: int, data: Data) -> str: ...

    @abc.abstractmethod
    async def _complete_multipart(
        self, key: str, upload_id: str, wanted: list[tuple[int, str]]
    ) -> FileInfo:
        """``wanted``: the parts sorted by number, etags normalized."""

    @abc.abstractmethod
    async def _abort_multipart(self, key: str, upload_id: str) -> None: ...

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
