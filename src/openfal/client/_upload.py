"""Uploads (PROTOCOL.md §8.1) and data-URI helpers, as flows.

Repositories, tried in order until one works: ``fal_v3`` (the CDN: one POST, or a multipart
upload above ``multipart_threshold``) then ``fal`` (a signed storage URL). Multipart parts are
cut from memory or read from disk part by part, sent ``concurrency`` at a time, retried, and
listed in order on completion.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import mimetypes
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from openfal.client._exceptions import FalClientError, FalClientHTTPError
from openfal.client._flows import call
from openfal.client._ops import Flow, ReadFile, SendAll, sleep
from openfal.client._retry import MAX_ATTEMPTS, backoff, retryable_error, retryable_response
from openfal.client._server import Server, timeouts

MULTIPART_THRESHOLD = 100 * 1024 * 1024
MULTIPART_CHUNK_SIZE = 10 * 1024 * 1024
MULTIPART_CONCURRENCY = 10

Repository = Literal["fal_v3", "cdn", "fal"]
StorageACLDecision = Literal["hide", "forbid", "allow"]
ObjectExpiration = Literal["never", "immediate", "1h", "1d", "7d", "30d", "1y"] | int
_EXPIRATIONS: dict[str, int | None] = {
    "never": None,
    "immediate": 60,
    "1h": 3600,
    "1d": 86400,
    "7d": 604800,
    "30d": 2592000,
    "1y": 31536000,
}


@dataclass(frozen=True)
class StorageACLRule:
    user: str
    decision: StorageACLDecision


@dataclass(frozen=True)
class StorageACL:
    default: StorageACLDecision | None = None
    rules: Sequence[StorageACLRule] | None = None


@dataclass(frozen=True)
class StorageSettings:
    """How long an upload lives (``expires_in``) and who may read it (``initial_acl``)."""

    expires_in: ObjectExpiration | None = None
    initial_acl: StorageACL | None = None

    def __post_init__(self) -> None:
        if self.expires_in is not None:
            _expiration_seconds(self.expires_in)

    def payload(self) -> dict[str, Any] | None:
        out: dict[str, Any] = {}
        if self.expires_in is not None:
            seconds = _expiration_seconds(self.expires_in)
            if seconds is not None:
                out["expiration_duration_seconds"] = seconds
        acl = self.initial_acl
        if acl is not None:
            acl_out: dict[str, Any] = {}
            if acl.default is not None:
                acl_out["default"] = acl.default
            if acl.rules:
                acl_out["rules"] = [{"user": r.user, "decision": r.decision} for r in acl.rules]
            if acl_out:
                out["initial_acl"] = acl_out
        return out or None


def _expiration_seconds(value: ObjectExpiration) -> int | None:
    if isinstance(value, bool):
        raise ValueError("expires_in must be a named duration or a number of seconds, not a bool")
    if isinstance(value, int):
        if value <= 0:
            raise ValueError(f"expires_in must be more than 0 seconds, got {value}")
        return value
    if value not in _EXPIRATIONS:
        raise ValueError(
            f"Unsupported expires_in {value!r}: use never, immediate, 1h, 1d, 7d, 30d, 1y "
            "or a number of seconds"
        )
    return _EXPIRATIONS[value]


@dataclass(frozen=True)
class FileSource:
    """A file on disk, read one part at a time."""

    path: str
    size: int


Source = bytes | FileSource


@dataclass(frozen=True)
class UploadOptions:
    multipart_threshold: int = MULTIPART_THRESHOLD
    chunk_size: int = MULTIPART_CHUNK_SIZE
    concurrency: int = MULTIPART_CONCURRENCY


_NEVER = dt.datetime.min.replace(tzinfo=dt.UTC)


@dataclass
class CDNToken:
    """The CDN token, cached per client until it expires."""

    owner: tuple[str, str | None] = ("", None)
    token: str = ""
    token_type: str = ""
    base_url: str = ""
    expires_at: dt.datetime = _NEVER

    def valid_for(self, server: Server) -> bool:
        fresh = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=30) < self.expires_at
        return fresh and self.owner == (server.base_url, server.key)

    @property
    def authorization(self) -> str:
        return f"{self.token_type} {self.token}"


def cdn_token(server: Server, cache: CDNToken) -> Flow[CDNToken]:
    if cache.valid_for(server):
        return cache
    request = server.request(
        "POST",
        server.rest_url("/storage/auth/token"),
        params={"storage_type": "fal-cdn-v3"},
        json_body={},
        headers={"accept": "application/json"},
        timeout=server.default_timeout,
    )
    data = (yield from call(request, timeout=server.default_timeout)).json()
    expires = dt.datetime.fromisoformat(data["expires_at"])
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=dt.UTC)
    cache.owner = (server.base_url, server.key)
    cache.token, cache.token_type = data["token"], data["token_type"]
    cache.base_url, cache.expires_at = data["base_url"].rstrip("/"), expires
    return cache


def _lifecycle_headers(lifecycle: StorageSettings | None) -> dict[str, str]:
    payload = lifecycle.payload() if lifecycle is not None else None
    if payload is None:
        return {}
    raw = json.dumps(payload)
    return {"x-fal-object-lifecycle": raw, "x-fal-object-lifecycle-preference": raw}


def repositories(
    repository: Repository | None, fallback: Repository | Sequence[Repository] | None
) -> list[str]:
    chain = [repository or "fal_v3"]
    if fallback is None:
        chain.append("fal")
    elif isinstance(fallback, str):
        chain.append(fallback)
    else:
        chain.extend(fallback)
    out: list[str] = []
    for repo in chain:
        repo = "fal_v3" if repo == "cdn" else repo
        if repo not in ("fal_v3", "fal"):
            raise ValueError(f"Unsupported upload repository {repo!r}: use 'fal_v3' or 'fal'")
        if repo not in out:
            out.append(repo)
    return out


def upload(
    server: Server,
    cache: CDNToken,
    source: Source,
    content_type: str,
    file_name: str | None,
    *,
    repository: Repository | None = None,
    fallback_repository: Repository | Sequence[Repository] | None = None,
    lifecycle: StorageSettings | None = None,
    options: UploadOptions = UploadOptions(),
) -> Flow[str]:
    """Upload ``source``; answers the file's URL."""
    chain = repositories(repository, fallback_repository)
    size = len(source) if isinstance(source, bytes) else source.size
    error: FalClientError | None = None
    for repo in chain:
        try:
            if repo == "fal":
                data = yield from _read(source, 0, size)
                return (
                    yield from _upload_storage(server, data, content_type, file_name, lifecycle)
                )
            if size > options.multipart_threshold:
                return (
                    yield from _upload_multipart(
                        server, cache, source, size, content_type, file_name, lifecycle, options
                    )
                )
            data = yield from _read(source, 0, size)
            return (yield from _upload_cdn(server, cache, data, content_type, file_name, lifecycle))
        except FalClientError as e:
            error = e
    assert error is not None
    raise error


def _read(source: Source, offset: int, size: int) -> Flow[bytes]:
    if isinstance(source, bytes):
        return source[offset : offset + size]
    data: bytes = yield ReadFile(source.path, offset, size)
    if len(data) != size:
        raise FalClientError(f"{source.path} changed while uploading it")
    return data


def _upload_cdn(
    server: Server,
    cache: CDNToken,
    data: bytes,
    content_type: str,
    file_name: str | None,
    lifecycle: StorageSettings | None,
) -> Flow[str]:
    token = yield from cdn_token(server, cache)
    headers = {"authorization": token.authorization, "content-type": content_type}
    if file_name:
        headers["x-fal-file-name"] = file_name
    headers.update(_lifecycle_headers(lifecycle))
    request = server.request(
        "POST", server.cdn_url("/files/upload"), content=data, headers=headers, auth=False
    )
    response = yield from call(request, timeout=None)
    url: str = response.json()["access_url"]
    return url


def _upload_storage(
    server: Server,
    data: bytes,
    content_type: str,
    file_name: str | None,
    lifecycle: StorageSettings | None,
) -> Flow[str]:
    initiate = server.request(
        "POST",
        server.rest_url("/storage/upload/initiate"),
        params={"storage_type": "gcs"},
        json_body={"file_name": file_name or "upload.bin", "content_type": content_type},
        headers={"accept": "application/json", **_lifecycle_headers(lifecycle)},
    )
    grant = (yield from call(initiate, timeout=server.default_timeout)).json()
    put = server.request(
        "PUT", grant["upload_url"], content=data, headers={"content-type": content_type}, auth=False
    )
    yield from call(put, timeout=None)
    url: str = grant["file_url"]
    return url


def _upload_multipart(
    server: Server,
    cache: CDNToken,
    source: Source,
    size: int,
    content_type: str,
    file_name: str | None,
    lifecycle: StorageSettings | None,
    options: UploadOptions,
) -> Flow[str]:
    token = yield from cdn_token(server, cache)
    auth = {"authorization": token.authorization}
    create = server.request(
        "POST",
        f"{token.base_url}/files/upload/multipart",
        headers={
            **auth,
            "accept": "application/json",
            "content-type": content_type,
            "x-fal-file-name": file_name or "upload.bin",
            **_lifecycle_headers(lifecycle),
        },
        auth=False,
    )
    created = (yield from call(create, timeout=server.default_timeout)).json()
    access_url, upload_id = created["access_url"], created["uploadId"]
    numbers = list(range(1, -(-size // options.chunk_size) + 1))
    etags: dict[int, str] = {}
    for start in range(0, len(numbers), options.concurrency):
        window = numbers[start : start + options.concurrency]
        parts: dict[int, httpx.Request] = {}
        for n in window:
            offset = (n - 1) * options.chunk_size
            chunk = yield from _read(source, offset, min(options.chunk_size, size - offset))
            parts[n] = server.request(
                "PUT",
                f"{access_url}/multipart/{upload_id}/{n}",
                content=chunk,
                headers={**auth, "content-type": content_type, "accept-encoding": "identity"},
                auth=False,
            )
        etags.update((yield from _send_parts(parts, options.concurrency)))
    complete = server.request(
        "POST",
        f"{access_url}/multipart/{upload_id}/complete",
        json_body={"parts": [{"partNumber": n, "etag": etags[n]} for n in sorted(etags)]},
        headers=auth,
        auth=False,
    )
    yield from call(complete, timeout=server.default_timeout)
    url: str = access_url
    return url


def _send_parts(parts: dict[int, httpx.Request], concurrency: int) -> Flow[dict[int, str]]:
    """PUT every part, retrying the failed ones together; answers part number -> ETag."""
    etags: dict[int, str] = {}
    pending = dict(parts)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        numbers = sorted(pending)
        for n in numbers:
            pending[n].extensions["timeout"] = timeouts(None)
        answers = yield SendAll(tuple(pending[n] for n in numbers), concurrency)
        failed: dict[int, httpx.Request] = {}
        for n, answer in zip(numbers, answers, strict=True):
            if isinstance(answer, httpx.Response) and answer.is_success:
                if "etag" not in answer.headers:
                    raise FalClientError(f"Part {n} upload answered without an ETag header")
                etags[n] = answer.headers["etag"]
            elif attempt < MAX_ATTEMPTS and _worth_retrying(answer, pending[n]):
                failed[n] = pending[n]
            elif isinstance(answer, httpx.Response):
                raise FalClientHTTPError.from_response(answer)
            else:
                raise FalClientError(f"Part {n} upload failed: {answer}") from answer
        if not failed:
            return etags
        pending = failed
        yield from sleep(backoff(attempt))
    raise FalClientError("Multipart upload: parts kept failing")


def _worth_retrying(answer: Any, request: httpx.Request) -> bool:
    if isinstance(answer, httpx.Response):
        return retryable_response(answer)
    return isinstance(answer, Exception) and retryable_error(answer, request)


# ---------------------------------------------------------------------------- helpers


def guess_type(path: str | os.PathLike[str]) -> str:
    mime, _ = mimetypes.guess_type(os.fspath(path))
    return mime or "application/octet-stream"


def file_source(path: str | os.PathLike[str]) -> FileSource:
    return FileSource(os.fspath(path), os.path.getsize(path))


def image_bytes(image: Any, format: str) -> bytes:
    with io.BytesIO() as buffer:
        image.save(buffer, format=format)
        return buffer.getvalue()


def encode(data: str | bytes, content_type: str) -> str:
    """``data:<content_type>;base64,...`` (apps accept data URIs wherever they take URLs)."""
    raw = data.encode() if isinstance(data, str) else data
    return f"data:{content_type};base64,{base64.b64encode(raw).decode()}"


def encode_file(path: str | os.PathLike[str]) -> str:
    with open(path, "rb") as f:
        return encode(f.read(), guess_type(path))


def encode_image(image: Any, format: str = "jpeg") -> str:
    """A Pillow image as a data URI of ``image/<format>``."""
    return encode(image_bytes(image, format), f"image/{format}")
