"""Files: serving stored files (``/files/{key}``) and the CDN upload surface (PROTOCOL.md §8.1).

Also the pieces the REST storage surface (:mod:`openfal.gateway.routes.storage`) shares:
the upload settings and signer on ``app.state.uploads``, storage error translation, file
URLs and lifecycle headers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from openfal.gateway.auth import auth_settings, may_read_file, record_file_owner
from openfal.gateway.errors import (
    BadRequest,
    GatewayError,
    NotFound,
    PayloadTooLarge,
    RangeNotSatisfiable,
    Unauthorized,
)
from openfal.gateway.routes.common import SMALL_BODY, parse_json_object, read_body
from openfal.storage import (
    Storage,
    new_key,
    validate_key,
)
from openfal.store.clock import now as clock_now

DEFAULT_URL_TTL = 3600.0  # seconds a signed upload URL / CDN token stays valid
DEFAULT_RETENTION = 7 * 24 * 3600.0  # seconds an upload lives without a lifecycle header


class StorageUnavailable(GatewayError):
    status_code = 503
    error_type = "storage_unavailable"


# ---------------------------------------------------------------------------- signing


@dataclass
class Signer:
    """HMAC-SHA256 over canonical strings; the secret never leaves the server."""

    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))

    def sign(self, message: str) -> str:
        digest = hmac.new(self.secret, message.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def verify(self, message: str, signature: str) -> bool:
        return hmac.compare_digest(self.sign(message), signature)

    def token(self, expires_at: float, owner: str = "") -> str:
        """A CDN token; ``owner`` (the user who asked for it) owns what it uploads."""
        exp = str(int(expires_at))
        if not owner:
            return f"{exp}.{self.sign('cdn-token:' + exp)}"
        who = base64.urlsafe_b64encode(owner.encode()).rstrip(b"=").decode()
        return f"{exp}.{who}.{self.sign('cdn-token:' + exp + ':' + who)}"

    def token_valid(self, token: str, now: float) -> bool:
        return self._token_fields(token, now) is not None

    def token_owner(self, token: str, now: float) -> str | None:
        """The owner of a valid token (None for an invalid one, or one without)."""
        fields = self._token_fields(token, now)
        if not fields or not fields[1]:
            return None
        who = fields[1]
        return base64.urlsafe_b64decode(who + "=" * (-len(who) % 4)).decode()

    def _token_fields(self, token: str, now: float) -> tuple[str, str] | None:
        """``(expiry, encoded owner)`` of a valid, unexpired token; tokens without an
        owner have two dot-separated fields, tokens with one three."""
        parts = token.split(".")
        if len(parts) == 2:
            exp, who, sig = parts[0], "", parts[1]
        elif len(parts) == 3:
            exp, who, sig = parts
        else:
            return None
        message = "cdn-token:" + exp + (":" + who if who else "")
        if not exp.isdigit() or not self.verify(message, sig) or int(exp) <= now:
            return None
        return exp, who


@dataclass
class UploadConfig:
    signer: Signer = field(default_factory=Signer)
    url_ttl: float = DEFAULT_URL_TTL
    default_retention: float | None = DEFAULT_RETENTION


def uploads(request: Request) -> UploadConfig:
    cfg: UploadConfig = request.app.state.uploads
    return cfg


def storage_of(request: Request) -> Storage:
    s: Storage | None = getattr(request.app.state, "storage", None)
    if s is None:
        raise StorageUnavailable("File storage is not configured on this server")
    return s


def base_url(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}{request.scope.get('root_path', '')}"


def file_url(request: Request, key: str) -> str:
    return f"{base_url(request)}/files/{key}"


def expires_at(request: Request, now: float | None = None) -> float | None:
    """From ``X-Fal-Object-Lifecycle(-Preference)``'s ``expiration_duration_seconds``, else
    the default retention."""
    now = clock_now() if now is None else now
    raw = request.headers.get("x-fal-object-lifecycle") or request.headers.get(
        "x-fal-object-lifecycle-preference"
    )
    cfg = uploads(request)
    if raw:
        try:
            pref = json.loads(raw)
        except ValueError:
            raise BadRequest(f"Invalid X-Fal-Object-Lifecycle header {raw!r}") from None
        if not isinstance(pref, dict):
            raise BadRequest(f"Invalid X-Fal-Object-Lifecycle header {raw!r}")
        seconds = pref.get("expiration_duration_seconds")
        if seconds is not None:
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
                raise BadRequest(
                    f"Invalid expiration_duration_seconds {seconds!r}: must be a number > 0"
                )
            return now + float(seconds)
    return None if cfg.default_retention is None else now + cfg.default_retention


def check_declared_size(request: Request, storage: Storage) -> None:
    declared = request.headers.get("content-length")
    limit = storage.max_size
    if limit is not None and declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"Upload is larger than the limit of {limit} bytes")


async def body_stream(request: Request) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        if chunk:
            yield chunk


async def check_cdn_token(request: Request) -> None:
    """A ``Bearer`` credential on the CDN must be one of our CDN tokens (others pass for now);
    one minted while the server had no keys is refused once keys are required."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return
    signer, now = uploads(request).signer, clock_now()
    if not signer.token_valid(token.strip(), now):
        raise Unauthorized("Invalid or expired CDN token")
    if signer.token_owner(token.strip(), now) is None and await auth_settings(
        request
    ).keys_required(request.app.state.store):
        raise Unauthorized("CDN token made before the server had keys: ask for a new one")


async def record_uploader(request: Request, key: str) -> None:
    """Remember who uploaded ``key``: the CDN token's owner, or the key's user."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        owner = uploads(request).signer.token_owner(token.strip(), clock_now())
    else:
        owner = request.scope.get("openfal.owner")
    await record_file_owner(request, key, owner)


def content_type_of(request: Request) -> str:
    return request.headers.get("content-type") or "application/octet-stream"


# ---------------------------------------------------------------------------- serving

_RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", re.IGNORECASE)


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """Inclusive bounds for a single ``bytes=`` range; ``None`` to serve the whole file.

    Raises :class:`RangeNotSatisfiable` when the range does not overlap the file.
    Malformed or multi-range headers are ignored (RFC 9110 allows that).
    """
    if not header:
        return None
    m = _RANGE.match(header)
    if not m or (not m.group(1) and not m.group(2)):
        return None
    first, last = m.group(1), m.group(2)
    if not first:  # suffix: the last N bytes
        n = _bound(last)
        if n == 0 or size == 0:
            raise _unsatisfiable(size)
        return max(0, size - n), size - 1
    start = _bound(first)
    if last and _bound(last) < start:
        return None  # invalid syntax: ignored
    end = _bound(last) if last else size - 1
    if start >= size:
        raise _unsatisfiable(size)
    return start, min(end, size - 1)


def _bound(digits: str) -> int:
    """A range bound; any number longer than 19 digits is past the end of every file."""
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= 19 else 10**19


def _unsatisfiable(size: int) -> RangeNotSatisfiable:
    return RangeNotSatisfiable(
        f"Range not satisfiable: the file has {size} bytes", headers=_cr(size)
    )


def _cr(size: int) -> dict[str, str]:
    return {"content-range": f"bytes */{size}"}


async def serve_file(request: Request) -> Response:
    """``GET``/``HEAD /files/{key}``: the bytes, with ranges."""
    key = request.path_params["key"]
    storage = storage_of(request)
    validate_key(key)
    info = await storage.stat(key)
    if info is None or info.is_expired(clock_now()) or not await may_read_file(request, key):
        raise NotFound("File not found")
    headers = {
        "etag": f'"{info.etag}"',
        "accept-ranges": "bytes",
        "content-type": info.content_type,
        "last-modified": time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(info.created_at)),
    }
    bounds = parse_range(request.headers.get("range"), info.size)
    status = 200
    if bounds is not None:
        status = 206
        headers["content-range"] = f"bytes {bounds[0]}-{bounds[1]}/{info.size}"
    length = info.size if bounds is None else bounds[1] - bounds[0] + 1
    headers["content-length"] = str(length)
    if request.method == "HEAD":
        return Response(status_code=status, headers=headers)
    stream = await storage.get(key, *(bounds or (None, None)))

    async def body() -> AsyncIterator[bytes]:
        async with stream:
            async for chunk in stream:
                yield chunk

    return StreamingResponse(body(), status_code=status, headers=headers)


# ---------------------------------------------------------------------------- CDN uploads


async def cdn_upload(request: Request) -> Response:
    """``POST /cdn/files/upload``: the raw body becomes a file."""
    await check_cdn_token(request)
    storage = storage_of(request)
    check_declared_size(request, storage)
    key = new_key(request.headers.get("x-fal-file-name"))
    expiry = expires_at(request)
    await storage.put(
        key,
        body_stream(request),
        content_type=content_type_of(request),
        file_name=request.headers.get("x-fal-file-name"),
        expires_at=expiry,
    )
    await record_uploader(request, key)
    return JSONResponse({"access_url": file_url(request, key)})


async def cdn_multipart_create(request: Request) -> Response:
    """``POST /cdn/files/upload/multipart``: ``{"access_url", "uploadId"}``."""
    await check_cdn_token(request)
    storage = storage_of(request)
    name = request.headers.get("x-fal-file-name")
    key = new_key(name)
    expiry = expires_at(request)
    upload_id = await storage.create_multipart(
        key, content_type_of(request), file_name=name, expires_at=expiry
    )
    await record_uploader(request, key)
    return JSONResponse({"access_url": file_url(request, key), "uploadId": upload_id})


_PART_PATH = re.compile(r"^(?P<key>.+)/multipart/(?P<upload_id>[^/]+)/(?P<part>\d{1,5})$")
_COMPLETE_PATH = re.compile(r"^(?P<key>.+)/multipart/(?P<upload_id>[^/]+)/complete$")


async def cdn_multipart_part(request: Request) -> Response:
    """``PUT /files/{key}/multipart/{uploadId}/{partNumber}``: answers with an ``ETag``."""
    m = _PART_PATH.match(request.path_params["key"])
    if m is None:
        raise NotFound(f"Path {request.url.path} not found")
    await check_cdn_token(request)
    storage = storage_of(request)
    check_declared_size(request, storage)
    number = int(m["part"])
    etag = await storage.put_part(m["key"], m["upload_id"], number, body_stream(request))
    return JSONResponse({"partNumber": number, "etag": f'"{etag}"'}, headers={"etag": f'"{etag}"'})


def parse_parts(body: Any) -> list[tuple[int, str]]:
    parts = body.get("parts") if isinstance(body, dict) else None
    if not isinstance(parts, list) or not parts:
        raise BadRequest('Body must be {"parts": [{"partNumber": n, "etag": "..."}, ...]}')
    result: list[tuple[int, str]] = []
    for p in parts:
        if not isinstance(p, dict):
            raise BadRequest(f"Invalid part {p!r}")
        number, etag = p.get("partNumber"), p.get("etag")
        if isinstance(number, bool) or not isinstance(number, int) or not isinstance(etag, str):
            raise BadRequest(f"Invalid part {p!r}: needs an integer partNumber and a string etag")
        result.append((number, etag))
    return sorted(result)


async def cdn_multipart_complete(request: Request) -> Response:
    """``POST /files/{key}/multipart/{uploadId}/complete`` with ``{"parts": [...]}``."""
    m = _COMPLETE_PATH.match(request.path_params["key"])
    if m is None:
        raise NotFound(f"Path {request.url.path} not found")
    await check_cdn_token(request)
    storage = storage_of(request)
    parts = parse_parts(parse_json_object(await read_body(request, SMALL_BODY)))
    await storage.complete_multipart(m["key"], m["upload_id"], parts)
    return JSONResponse({"access_url": file_url(request, m["key"])})
