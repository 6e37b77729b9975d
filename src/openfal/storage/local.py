"""Files on a local (or network-mounted) disk.

Layout under ``root``::

    objects/<key>            the bytes
    meta/<key>.json          the JSON sidecar: FileInfo fields
    uploads/<upload id>/     manifest.json, then 00001.part + 00001.json (etag, size) per part
    tmp/                     files being written

The sidecar mirrors the object's path in a parallel tree rather than sitting beside it so
that no key (say ``a.json``) can ever collide with another key's sidecar. A sidecar per file
rather than one index keeps every write independent and atomic (no shared database to lock
or corrupt, safe for several gateway processes on one directory, nothing to rebuild after
a crash), at the price of a directory walk in :meth:`LocalStorage.expired`.

Writes go to a temp file in ``tmp/`` (same file system), are fsync'ed, then moved into
place with ``os.replace``; the data first, the sidecar last. A file is visible exactly when
its sidecar exists, so a crash leaves at worst an invisible orphan, never a half file.
Deletes remove the sidecar first for the same reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any, BinaryIO

from openfal.clock import now as clock_now
from openfal.filekeys import (
    file_name_for,
)
from openfal.storage.base import (
    DEFAULT_CONTENT_TYPE,
    FileInfo,
    Storage,
)
from openfal.storage.errors import (
    FileNotFound,
    MultipartError,
    StorageError,
    UploadTooLarge,
)
from openfal.storage.multipart import (
    MIN_PART_SIZE,
    check_parts_fit,
    multipart_etag,
)
from openfal.storage.spool import (
    DEFAULT_CHUNK_SIZE,
    Data,
    spool,
)
from openfal.storage.streams import (
    ByteStream,
    resolve_range,
)

_UPLOAD_ID = re.compile(r"[0-9a-f]{32}")
_PART_FILE = re.compile(r"(\d{5})\.json")
_COPY_BUFFER = 1024 * 1024


def _append(src: BinaryIO, out: BinaryIO) -> None:
    """Append ``src`` to ``out`` (both unbuffered so far), in the kernel where it can."""
    out.flush()
    remaining = os.fstat(src.fileno()).st_size
    try:
        while remaining > 0:
            copied = os.copy_file_range(src.fileno(), out.fileno(), remaining)
            if copied == 0:
                break
            remaining -= copied
    except OSError:  # not supported between these files: copy through user space
        pass
    if remaining > 0:
        shutil.copyfileobj(src, out, _COPY_BUFFER)
    out.flush()


class LocalStorage(Storage):
    """Files under a directory, metadata in JSON sidecars. ``presigned_url`` is ``None``."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        max_size: int | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        min_part_size: int = MIN_PART_SIZE,
        stale_after: float = 24 * 3600.0,
        fsync: bool = True,
    ) -> None:
        super().__init__(
            max_size=max_size,
            chunk_size=chunk_size,
            min_part_size=min_part_size,
            stale_after=stale_after,
        )
        self.root = Path(root).absolute()
        self.fsync = fsync
        self._objects = self.root / "objects"
        self._meta = self.root / "meta"
        self._uploads = self.root / "uploads"
        self._tmp = self.root / "tmp"

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    async def open(self) -> None:
        await asyncio.to_thread(self._make_dirs)

    def _make_dirs(self) -> None:
        for path in (self._objects, self._meta, self._uploads, self._tmp):
            path.mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ paths & sidecars

    def _data_path(self, key: str) -> Path:
        return self._objects / key

    def _meta_path(self, key: str) -> Path:
        return self._meta / (key + ".json")

    def _write_json(self, path: Path, payload: dict[str, Any]) -> None:
        """Atomically write ``payload`` to ``path`` (whose parent must exist)."""
        fd, name = tempfile.mkstemp(prefix=".json-", suffix=".tmp", dir=self._tmp)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(payload, out)
                out.flush()
                if self.fsync:
                    os.fsync(out.fileno())
            os.replace(name, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(name)
            raise

    def _read_meta(self, key: str) -> FileInfo | None:
        try:
            with open(self._meta_path(key), encoding="utf-8") as f:
                raw = json.load(f)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
        except (OSError, ValueError) as e:
            raise StorageError(f"unreadable metadata for {key!r}: {e}") from e
        return FileInfo(
            key=key,
            size=int(raw["size"]),
            content_type=raw["content_type"],
            file_name=raw["file_name"],
            etag=raw["etag"],
            created_at=float(raw["created_at"]),
            expires_at=None if raw.get("expires_at") is None else float(raw["expires_at"]),
        )

    def _move_into_place(self, src: str | Path, dst: Path, key: str) -> None:
        for attempt in range(5):
            try:
                dst.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, dst)
                return
            except FileNotFoundError:
                # a concurrent delete pruned the (empty) parent between mkdir and replace
                if attempt == 4 or not os.path.exists(src):
                    raise
            except (FileExistsError, NotADirectoryError, IsADirectoryError) as e:
                raise StorageError(
                    f"key {key!r} clashes with another key (one is a prefix of the other)"
                ) from e

    def _commit(self, tmp: str | Path, info: FileInfo) -> None:
        """Publish the temp file ``tmp`` as ``info.key``: data first, sidecar last."""
        try:
            self._move_into_place(tmp, self._data_path(info.key), info.key)
            fd, meta_tmp = tempfile.mkstemp(prefix=".json-", suffix=".tmp", dir=self._tmp)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(dataclasses.asdict(info), out)
                out.flush()
                if self.fsync:
                    os.fsync(out.fileno())
            try:
                self._move_into_place(meta_tmp, self._meta_path(info.key), info.key)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(meta_tmp)
                raise
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    def _prune(self, path: Path, top: Path) -> None:
        """Remove empty directories from ``path`` up to (not including) ``top``."""
        while path != top and top in path.parents:
            try:
                path.rmdir()
            except OSError:
                return
            path = path.parent

    # ------------------------------------------------------------------ files

    async def _put(
        self,
        key: str,
        data: Data,
        *,
        content_type: str = DEFAULT_CONTENT_TYPE,
        file_name: str | None = None,
        expires_at: float | None = None,
    ) -> FileInfo:
        await asyncio.to_thread(self._make_dirs)
        spooled = await spool(
            data, self._tmp, limit=self.max_size, chunk_size=self.chunk_size, fsync=self.fsync
        )
        info = FileInfo(
            key=key,
            size=spooled.size,
            content_type=content_type or DEFAULT_CONTENT_TYPE,
            file_name=file_name_for(key, file_name),
            etag=spooled.md5,
            created_at=clock_now(),
            expires_at=expires_at,
        )
        await asyncio.to_thread(self._commit, spooled.path, info)
        return info

    async def _get(self, key: str, start: int | None = None, end: int | None = None) -> ByteStream:

        def open_range() -> ByteStream:
            info = self._read_meta(key)
            if info is None:
                raise FileNotFound(key)
            try:
                f = open(self._data_path(key), "rb")  # noqa: SIM115 - closed by the stream
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                raise FileNotFound(key) from None
            try:
                size = os.fstat(f.fileno()).st_size
                first, last = resolve_range(size, start, end)
                f.seek(first)
            except BaseException:
                f.close()
                raise
            if size != info.size:  # replaced between the two opens: trust the open file
                info = dataclasses.replace(info, size=size)
            return ByteStream(info, first, last, f.read, f.close, self.chunk_size)

        return await asyncio.to_thread(open_range)

    async def _stat(self, key: str) -> FileInfo | None:
        return await asyncio.to_thread(self._read_meta, key)

    async def _delete(self, key: str) -> bool:

        def remove() -> bool:
            existed = False
            for path, top, is_meta in (
                (self._meta_path(key), self._meta, True),
                (self._data_path(key), self._objects, False),
            ):
                try:
                    path.unlink()
                except (FileNotFoundError, NotADirectoryError):
                    continue
                except IsADirectoryError:  # a prefix of other keys, not a file
                    continue
                existed = existed or is_meta
                self._prune(path.parent, top)
            return existed

        return await asyncio.to_thread(remove)

    async def _presigned_url(self, key: str, expires_in: float = 3600) -> str | None:
        if expires_in <= 0:
            raise ValueError("expires_in must be positive")
        return None

    # ------------------------------------------------------------------ multipart

    def _upload_dir(self, key: str, upload_id: str) -> tuple[Path, dict[str, Any]]:
        if not isinstance(upload_id, str) or not _UPLOAD_ID.fullmatch(upload_id):
            raise MultipartError(f"unknown upload id {upload_id!r}")
        directory = self._uploads / upload_id
        try:
            with open(directory / "manifest.json", encoding="utf-8") as f:
                manifest: dict[str, Any] = json.load(f)
        except FileNotFoundError:
            raise MultipartError(
                f"unknown upload id {upload_id!r} (finished or aborted?)"
            ) from None
        if manifest.get("key") != key:
            raise MultipartError(f"upload {upload_id!r} is not for key {key!r}")
        return directory, manifest

    def _uploaded_parts(self, directory: Path) -> dict[int, dict[str, int]]:
        parts: dict[int, dict[str, int]] = {}
        for entry in os.scandir(directory):
            match = _PART_FILE.fullmatch(entry.name)
            if match:
                with open(entry.path, encoding="utf-8") as f:
                    raw = json.load(f)
                parts[int(match.group(1))] = {raw["etag"]: int(raw["size"])}
        return parts

    async def _create_multipart(
        self,
        key: str,
        content_type: str = DEFAULT_CONTENT_TYPE,
        file_name: str | None = None,
        expires_at: float | None = None,
    ) -> str:
        upload_id = uuid.uuid4().hex
        manifest = {
            "key": key,
            "content_type": content_type or DEFAULT_CONTENT_TYPE,
            "file_name": file_name_for(key, file_name),
            "expires_at": expires_at,
            "created_at": clock_now(),
        }

        def create() -> None:
            self._make_dirs()
            directory = self._uploads / upload_id
            directory.mkdir()
            self._write_json(directory / "manifest.json", manifest)

        await asyncio.to_thread(create)
        return upload_id

    async def _put_part(self, key: str, upload_id: str, part_number: int, data: Data) -> str:

        def prepare() -> tuple[Path, int]:
            directory, _ = self._upload_dir(key, upload_id)
            uploaded = self._uploaded_parts(directory)
            others = sum(sum(v.values()) for n, v in uploaded.items() if n != part_number)
            return directory, others

        directory, others = await asyncio.to_thread(prepare)
        limit = None if self.max_size is None else self.max_size - others
        if limit is not None and limit < 0:
            raise UploadTooLarge(self.max_size or 0, others)
        try:
            spooled = await spool(
                data, directory, limit=limit, chunk_size=self.chunk_size, fsync=self.fsync
            )
        except UploadTooLarge as e:
            raise UploadTooLarge(self.max_size or 0, others + (e.size or 0)) from None
        except FileNotFoundError:
            raise MultipartError(f"upload {upload_id!r} was aborted") from None

        def publish() -> None:
            stem = directory / f"{part_number:05d}"
            try:
                os.replace(spooled.path, stem.with_suffix(".part"))
                self._write_json(
                    stem.with_suffix(".json"), {"etag": spooled.md5, "size": spooled.size}
                )
            except FileNotFoundError:
                with contextlib.suppress(OSError):
                    spooled.path.unlink()
                raise MultipartError(f"upload {upload_id!r} was aborted") from None

        await asyncio.to_thread(publish)
        return spooled.md5

    async def _complete_multipart(
        self, key: str, upload_id: str, wanted: list[tuple[int, str]]
    ) -> FileInfo:

        def complete() -> FileInfo:
            directory, manifest = self._upload_dir(key, upload_id)
            total = check_parts_fit(
                key, wanted, self._uploaded_parts(directory), self.min_part_size
            )
            if self.max_size is not None and total > self.max_size:
                shutil.rmtree(directory, ignore_errors=True)
                raise UploadTooLarge(self.max_size, total)
            fd, tmp = tempfile.mkstemp(prefix=".join-", suffix=".tmp", dir=self._tmp)
            try:
                with os.fdopen(fd, "wb") as out:
                    for number, _ in wanted:
                        with open(directory / f"{number:05d}.part", "rb") as src:
                            _append(src, out)
                    if self.fsync:
                        os.fsync(out.fileno())
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            info = FileInfo(
                key=key,
                size=total,
                content_type=manifest["content_type"],
                file_name=manifest["file_name"],
                etag=multipart_etag([etag for _, etag in wanted]),
                created_at=clock_now(),
                expires_at=manifest.get("expires_at"),
            )
            self._commit(tmp, info)
            shutil.rmtree(directory, ignore_errors=True)
            return info

        return await asyncio.to_thread(complete)

    async def _abort_multipart(self, key: str, upload_id: str) -> None:

        def abort() -> None:
            try:
                directory, _ = self._upload_dir(key, upload_id)
            except MultipartError:
                return  # unknown, finished, or not this key's upload: nothing to drop
            shutil.rmtree(directory, ignore_errors=True)

        await asyncio.to_thread(abort)

    # ------------------------------------------------------------------ expiry

    async def expired(self, now: float | None = None) -> list[str]:
        when = clock_now() if now is None else now

        def scan() -> list[str]:
            keys: list[str] = []
            for dirpath, _, files in os.walk(self._meta):
                for name in files:
                    if not name.endswith(".json"):
                        continue
                    path = Path(dirpath) / name
                    key = path.relative_to(self._meta).as_posix()[: -len(".json")]
                    try:
                        info = self._read_meta(key)
                    except StorageError:
                        continue
                    if info is not None and info.is_expired(when):
                        keys.append(key)
            return sorted(keys)

        return await asyncio.to_thread(scan)

    async def _sweep_stale(self, now: float) -> None:
        cutoff = now - self.stale_after

        def clean() -> None:
            if self._tmp.is_dir():
                for entry in os.scandir(self._tmp):
                    with contextlib.suppress(OSError):
                        if entry.stat().st_mtime < cutoff:
                            os.unlink(entry.path)
            if self._uploads.is_dir():
                for entry in os.scandir(self._uploads):
                    with contextlib.suppress(OSError):
                        try:
                            with open(Path(entry.path) / "manifest.json", encoding="utf-8") as f:
                                created = float(json.load(f)["created_at"])
                        except (OSError, ValueError, KeyError, TypeError):
                            created = entry.stat().st_mtime  # crashed before its manifest
                        if created < cutoff:
                            shutil.rmtree(entry.path, ignore_errors=True)

        await asyncio.to_thread(clean)
