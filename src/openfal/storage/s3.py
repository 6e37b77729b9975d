"""Files in an S3-compatible bucket (AWS S3, SeaweedFS, MinIO, R2, ...), through boto3.

Every blocking boto3 call runs in a worker thread (``asyncio.to_thread``). Keys live under
``prefix/`` in the bucket; the content type is the object's ``Content-Type`` and the file
name (percent-encoded) and expiry time are user metadata (``x-amz-meta-file-name``,
``x-amz-meta-expires-at``). Multipart uploads are S3's own. Streams of unknown length are
spooled to a local temp file first (so that S3 gets a length and ``max_size`` is enforced
before anything is sent); files bigger than ``multipart_threshold`` go up in parallel parts.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import quote, unquote

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from openfal.clock import now as clock_now
from openfal.filekeys import (
    file_name_for,
    validate_key,
)
from openfal.storage.base import (
    DEFAULT_CONTENT_TYPE,
    FileInfo,
    Storage,
    parse_bool,
)
from openfal.storage.errors import (
    FileNotFound,
    InvalidRange,
    MultipartError,
    StorageError,
    UploadTooLarge,
)
from openfal.storage.multipart import (
    MIN_PART_SIZE,
    check_parts_fit,
    normalize_etag,
)
from openfal.storage.spool import (
    DEFAULT_CHUNK_SIZE,
    Data,
    as_bytes,
    check_data,
    is_path,
    spool,
)
from openfal.storage.streams import ByteStream

T = TypeVar("T")

META_FILE_NAME = "file-name"
META_EXPIRES_AT = "expires-at"
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # SigV4 limit
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_BAD_PARTS = {"InvalidPart", "InvalidPartOrder", "EntityTooSmall", "NoSuchUpload"}


def _env(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class S3Storage(Storage):
    """Files in ``bucket`` under ``prefix``. Unset options fall back to the environment:
    ``OPENFAL_S3_ENDPOINT``, ``AWS_REGION``/``AWS_DEFAULT_REGION``, ``AWS_ACCESS_KEY_ID``,
    ``AWS_SECRET_ACCESS_KEY`` and ``OPENFAL_S3_PATH_STYLE`` (default: path-style addressing
    whenever a custom endpoint is set, as SeaweedFS and MinIO want)."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
        path_style: bool | None = None,
        max_size: int | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        min_part_size: int = MIN_PART_SIZE,
        stale_after: float = 24 * 3600.0,
        multipart_threshold: int = 64 * 1024 * 1024,
        spool_dir: str | os.PathLike[str] | None = None,
        session: boto3.session.Session | None = None,
        client: Any = None,
    ) -> None:
        super().__init__(
            max_size=max_size,
            chunk_size=chunk_size,
            min_part_size=min_part_size,
            stale_after=stale_after,
        )
        if not bucket:
            raise ValueError("bucket must not be empty")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        if self.prefix:
            validate_key(self.prefix)
        self.endpoint_url = endpoint_url or _env("OPENFAL_S3_ENDPOINT")
        self.region = region or _env("AWS_REGION", "AWS_DEFAULT_REGION") or "us-east-1"
        if path_style is None:
            env_style = _env("OPENFAL_S3_PATH_STYLE")
            path_style = parse_bool(env_style) if env_style else self.endpoint_url is not None
        self.path_style = path_style
        self.multipart_threshold = max(multipart_threshold, min_part_size)
        self.spool_dir = spool_dir
        self._owns_client = client is None
        if client is None:
            client = (session or boto3.session.Session()).client(
                "s3",
                endpoint_url=self.endpoint_url,
                region_name=self.region,
                aws_access_key_id=access_key or _env("AWS_ACCESS_KEY_ID"),
                aws_secret_access_key=secret_key or _env("AWS_SECRET_ACCESS_KEY"),
                config=Config(
                    signature_version="s3v4",
                    s3={"addressing_style": "path" if path_style else "auto"},
                    retries={"mode": "standard", "max_attempts": 3},
                    max_pool_connections=32,
                ),
            )
        self.client = client

    def __repr__(self) -> str:
        where = f"{self.bucket}/{self.prefix}" if self.prefix else self.bucket
        return f"S3Storage('s3://{where}', endpoint_url={self.endpoint_url!r})"

    # ------------------------------------------------------------------ plumbing

    def _full(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _relative(self, full: str) -> str:
        return full[len(self.prefix) + 1 :] if self.prefix else full

    def _call(self, operation: str, key: str, **params: Any) -> Any:
        """Run one client call (blocking), mapping its errors onto the storage errors."""
        try:
            return getattr(self.client, operation)(Bucket=self.bucket, **params)
        except ClientError as e:
            code = _code(e)
            if code in _NOT_FOUND:
                raise FileNotFound(key) from e
            if code in ("InvalidRange", "416"):
                raise InvalidRange(f"range not satisfiable for {key!r}") from e
            if code in _BAD_PARTS:
                message = e.response.get("Error", {}).get("Message", code)
                raise MultipartError(f"{code} for {key!r}: {message}") from e
            if code == "EntityTooLarge" and self.max_size is not None:
                raise UploadTooLarge(self.max_size) from e
            raise StorageError(f"S3 {operation} of {key!r} failed: {e}") from e
        except BotoCoreError as e:
            raise StorageError(f"S3 {operation} of {key!r} failed: {e}") from e

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(fn, *args, **kwargs)

    def _metadata(
        self, key: str, file_name: str | None, expires_at: float | None
    ) -> dict[str, str]:
        meta = {META_FILE_NAME: quote(file_name_for(key, file_name), safe="")}
        if expires_at is not None:
            meta[META_EXPIRES_AT] = repr(float(expires_at))
        return meta

    def _info(self, key: str, response: dict[str, Any], size: int) -> FileInfo:
        meta = {k.lower(): v for k, v in (response.get("Metadata") or {}).items()}
        expires = meta.get(META_EXPIRES_AT)
        file_name = unquote(meta.get(META_FILE_NAME, "")) or key.rsplit("/", 1)[-1]
        modified = response.get("LastModified")
        return FileInfo(
            key=key,
            size=size,
            content_type=response.get("ContentType") or DEFAULT_CONTENT_TYPE,
            file_name=file_name,
            etag=normalize_etag(response.get("ETag", "")),
            created_at=modified.timestamp() if modified is not None else clock_now(),
            expires_at=float(expires) if expires else None,
        )

    def _head(self, key: str) -> FileInfo | None:
        try:
            response = self._call("head_object", key, Key=self._full(key))
        except FileNotFound:
            return None
        return self._info(key, response, int(response.get("ContentLength", 0)))

    async def open(self) -> None:
        try:
            await self._run(self.client.head_bucket, Bucket=self.bucket)
        except (ClientError, BotoCoreError) as e:
            raise StorageError(f"S3 bucket {self.bucket!r} is not reachable: {e}") from e

    async def close(self) -> None:
        if self._owns_client:
            with contextlib.suppress(Exception):
                self.client.close()

    # ------------------------------------------------------------------ files

    def _upload_file(self, path: str, key: str, extra: dict[str, Any]) -> None:
        size = os.path.getsize(path)
        if size <= self.multipart_threshold:
            with open(path, "rb") as body:
                self._call("put_object", key, Key=self._full(key), Body=body, **extra)
            return
        config = TransferConfig(
            multipart_threshold=self.multipart_threshold,
            multipart_chunksize=max(self.min_part_size, 16 * 1024 * 1024),
            max_concurrency=4,
        )
        try:
            self.client.upload_file(
                path, self.bucket, self._full(key), ExtraArgs=extra, Config=config
            )
        except (ClientError, BotoCoreError) as e:  # s3transfer wraps some errors
            raise StorageError(f"S3 upload of {key!r} failed: {e}") from e
        except Exception as e:
            if type(e).__module__.startswith(("boto3", "s3transfer")):
                raise StorageError(f"S3 upload of {key!r} failed: {e}") from e
            raise

    async def _send(self, key: str, data: Data, send: Callable[[Any], T]) -> T:
        """Call ``send(body)`` in a thread with ``data`` as a seekable body of known size,
        enforcing ``max_size`` first. ``body`` is bytes or a local file path."""
        check_data(data)
        raw = as_bytes(data)
        if raw is not None:
            self._check_size(len(raw))
            return await self._run(send, bytes(raw))
        if is_path(data):
            path = os.fspath(data)  # type: ignore[arg-type]
            self._check_size(await self._run(os.path.getsize, path))
            return await self._run(send, path)
        spooled = await spool(data, self.spool_dir, limit=self.max_size, chunk_size=self.chunk_size)
        try:
            return await self._run(send, str(spooled.path))
        finally:
            with contextlib.suppress(OSError):
                await self._run(spooled.path.unlink)

    async def _put(
        self,
        key: str,
        data: Data,
        *,
        content_type: str = DEFAULT_CONTENT_TYPE,
        file_name: str | None = None,
        expires_at: float | None = None,
    ) -> FileInfo:
        extra = {
            "ContentType": content_type or DEFAULT_CONTENT_TYPE,
            "Metadata": self._metadata(key, file_name, expires_at),
        }

        def send(body: bytes | str) -> FileInfo | None:
            if isinstance(body, bytes):
                self._call("put_object", key, Key=self._full(key), Body=body, **extra)
            else:
                self._upload_file(body, key, extra)
            return self._head(key)

        info = await self._send(key, data, send)
        if info is None:
            raise StorageError(f"{key!r} vanished right after it was stored")
        return info

    async def _get(self, key: str, start: int | None = None, end: int | None = None) -> ByteStream:
        params: dict[str, Any] = {"Key": self._full(key)}
        if start is not None or end is not None:
            params["Range"] = f"bytes={start or 0}-{'' if end is None else end}"

        def open_range() -> ByteStream:
            response = self._call("get_object", key, **params)
            body = response["Body"]
            match = _CONTENT_RANGE.fullmatch(response.get("ContentRange") or "")
            length = int(response.get("ContentLength", 0))
            if match:
                first, last = int(match.group(1)), int(match.group(2))
                total = int(match.group(3)) if match.group(3) != "*" else last + 1
            elif "Range" in params:
                body.close()
                raise StorageError(f"the S3 server ignored the byte range for {key!r}")
            else:
                first, last, total = 0, length - 1, length
            info = self._info(key, response, total)
            return ByteStream(info, first, last, body.read, body.close, self.chunk_size)

        return await self._run(open_range)

    async def _stat(self, key: str) -> FileInfo | None:
        return await self._run(self._head, key)

    async def _delete(self, key: str) -> bool:

        def remove() -> bool:
            if self._head(key) is None:
                return False
            self._call("delete_object", key, Key=self._full(key))
            return True

        return await self._run(remove)

    async def _presigned_url(self, key: str, expires_in: float = 3600) -> str | None:
        if not 0 < expires_in <= MAX_PRESIGN_SECONDS:
            raise ValueError(f"expires_in must be in (0, {MAX_PRESIGN_SECONDS}] seconds")
        url = await self._run(
            self.client.generate_presigned_url,
            "get_object",
            Params={"Bucket": self.bucket, "Key": self._full(key)},
            ExpiresIn=max(1, int(expires_in)),
        )
        return str(url)

    # ------------------------------------------------------------------ multipart

    async def _create_multipart(
        self,
        key: str,
        content_type: str = DEFAULT_CONTENT_TYPE,
        file_name: str | None = None,
        expires_at: float | None = None,
    ) -> str:
        response = await self._run(
            self._call,
            "create_multipart_upload",
            key,
            Key=self._full(key),
            ContentType=content_type or DEFAULT_CONTENT_TYPE,
            Metadata=self._metadata(key, file_name, expires_at),
        )
        return str(response["UploadId"])

    async def _put_part(self, key: str, upload_id: str, part_number: int, data: Data) -> str:
        if not upload_id or not isinstance(upload_id, str):
            raise MultipartError(f"unknown upload id {upload_id!r}")

        def send(body: bytes | str) -> str:
            params = {"Key": self._full(key), "UploadId": upload_id, "PartNumber": part_number}
            if isinstance(body, bytes):
                response = self._call("upload_part", key, Body=body, **params)
            else:
                with open(body, "rb") as f:
                    response = self._call("upload_part", key, Body=f, **params)
            return normalize_etag(response["ETag"])

        return await self._send(key, data, send)

    def _list_parts(self, key: str, upload_id: str) -> dict[int, dict[str, int]]:
        # {part number: {etag: size}}: SeaweedFS lists every version of a re-uploaded part
        parts: dict[int, dict[str, int]] = {}
        marker = 0
        while True:
            response = self._call(
                "list_parts",
                key,
                Key=self._full(key),
                UploadId=upload_id,
                PartNumberMarker=marker,
            )
            for part in response.get("Parts", []):
                versions = parts.setdefault(int(part["PartNumber"]), {})
                versions[normalize_etag(str(part["ETag"]))] = int(part["Size"])
            if not response.get("IsTruncated"):
                return parts
            marker = int(response["NextPartNumberMarker"])

    async def _complete_multipart(
        self, key: str, upload_id: str, wanted: list[tuple[int, str]]
    ) -> FileInfo:

        def complete() -> FileInfo | None:
            uploaded = self._list_parts(key, upload_id)
            total = check_parts_fit(key, wanted, uploaded, self.min_part_size)
            if self.max_size is not None and total > self.max_size:
                self._abort(key, upload_id)
                raise UploadTooLarge(self.max_size, total)
            self._call(
                "complete_multipart_upload",
                key,
                Key=self._full(key),
                UploadId=upload_id,
                MultipartUpload={
                    "Parts": [{"PartNumber": n, "ETag": f'"{etag}"'} for n, etag in wanted]
                },
            )
            return self._head(key)

        info = await self._run(complete)
        if info is None:
            raise StorageError(f"{key!r} vanished right after its multipart upload completed")
        return info

    def _abort(self, key: str, upload_id: str) -> None:
        with contextlib.suppress(MultipartError, FileNotFound):
            self._call("abort_multipart_upload", key, Key=self._full(key), UploadId=upload_id)

    async def _abort_multipart(self, key: str, upload_id: str) -> None:
        if upload_id and isinstance(upload_id, str):
            await self._run(self._abort, key, upload_id)

    # ------------------------------------------------------------------ expiry

    def _list_prefix(self) -> str:
        return f"{self.prefix}/" if self.prefix else ""

    async def expired(self, now: float | None = None) -> list[str]:
        when = clock_now() if now is None else now

        def scan() -> list[str]:
            keys: list[str] = []
            token: str | None = None
            while True:
                params: dict[str, Any] = {"Prefix": self._list_prefix()}
                if token:
                    params["ContinuationToken"] = token
                response = self._call("list_objects_v2", self.prefix or "/", **params)
                for obj in response.get("Contents", []):
                    key = self._relative(obj["Key"])
                    if not key or key.endswith("/"):
                        continue
                    try:
                        info = self._head(key)
                    except StorageError:
                        continue
                    if info is not None and info.is_expired(when):
                        keys.append(key)
                if not response.get("IsTruncated"):
                    return sorted(keys)
                token = response.get("NextContinuationToken")

        return await self._run(scan)

    async def _sweep_stale(self, now: float) -> None:
        cutoff = now - self.stale_after

        def clean() -> None:
            response = self._call(
                "list_multipart_uploads", self.prefix or "/", Prefix=self._list_prefix()
            )
            for upload in response.get("Uploads", []):
                initiated = upload.get("Initiated")
                if initiated is not None and initiated.timestamp() < cutoff:
                    self._abort(self._relative(upload["Key"]), upload["UploadId"])

        with contextlib.suppress(StorageError):
            await self._run(clean)
