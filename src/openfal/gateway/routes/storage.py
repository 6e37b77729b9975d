"""The REST storage surface (PROTOCOL.md §8.1 c, §8.2): signed upload URLs and the CDN token,
and a plain ``POST /rest/storage/upload`` for curl.

``initiate`` answers ``{"upload_url", "file_url"}``; ``upload_url`` is
``/rest/storage/upload/put/{key}?exp=..&ct=..&x=..[&uid=..]&sig=..``, an HMAC-signed,
expiring URL that needs no other credential (JS PUTs it with a bare ``fetch``). Multipart
URLs carry ``uid`` (the storage's upload id); parts go to ``<path>/<n>?<query>`` and the
finish to ``<path>/complete?<query>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message

from openfal.gateway.auth import record_file_owner
from openfal.gateway.errors import BadRequest, Forbidden, NotFound, PayloadTooLarge
from openfal.gateway.routes.common import SMALL_BODY, parse_json_object, read_body
from openfal.gateway.routes.files import (
    base_url,
    body_stream,
    check_declared_size,
    expires_at,
    file_url,
    parse_parts,
    storage_of,
    uploads,
)
from openfal.storage import new_key, validate_key
from openfal.store.clock import now as clock_now

PUT_PREFIX = "/rest/storage/upload/put/"
_STORAGE_TYPES = ("gcs", "fal-cdn-v3", "fal-cdn", None)


@dataclass(frozen=True)
class Grant:
    """What a signed upload URL allows."""

    key: str
    exp: int
    content_type: str
    file_expires_at: int | None
    upload_id: str  # "" for a single-shot upload

    def message(self) -> str:
        x = "" if self.file_expires_at is None else str(self.file_expires_at)
        return "\n".join(["put", self.key, str(self.exp), self.content_type, x, self.upload_id])

    def query(self, sig: str) -> str:
        params = {"exp": str(self.exp), "ct": self.content_type}
        if self.file_expires_at is not None:
            params["x"] = str(self.file_expires_at)
        if self.upload_id:
            params["uid"] = self.upload_id
        params["sig"] = sig
        return urlencode(params)


def _storage_type(request: Request) -> None:
    value = request.query_params.get("storage_type")
    if value not in _STORAGE_TYPES:
        raise BadRequest(f"Unsupported storage_type {value!r}: use gcs or fal-cdn-v3")


async def _initiate_body(request: Request) -> tuple[str | None, str]:
    body = parse_json_object(await read_body(request, SMALL_BODY))
    if not isinstance(body, dict):
        raise BadRequest('Body must be {"file_name": ..., "content_type": ...}')
    name, ctype = body.get("file_name"), body.get("content_type")
    if name is not None and not isinstance(name, str):
        raise BadRequest("file_name must be a string")
    if ctype is not None and not isinstance(ctype, str):
        raise BadRequest("content_type must be a string")
    return name, ctype or "application/octet-stream"


async def _answer(request: Request, grant: Grant) -> Response:
    await record_file_owner(request, grant.key, request.scope.get("openfal.owner"))
    sig = uploads(request).signer.sign(grant.message())
    upload_url = f"{base_url(request)}{PUT_PREFIX}{grant.key}?{grant.query(sig)}"
    return JSONResponse({"upload_url": upload_url, "file_url": file_url(request, grant.key)})


def _file_expiry(request: Request) -> int | None:
    at = expires_at(request)
    return None if at is None else int(at)


async def initiate(request: Request) -> Response:
    """``POST /rest/storage/upload/initiate``: a signed single-shot upload URL."""
    _storage_type(request)
    storage_of(request)
    name, ctype = await _initiate_body(request)
    cfg = uploads(request)
    grant = Grant(
        key=new_key(name),
        exp=int(clock_now() + cfg.url_ttl),
        content_type=ctype,
        file_expires_at=_file_expiry(request),
        upload_id="",
    )
    return await _answer(request, grant)


async def initiate_multipart(request: Request) -> Response:
    """``POST /rest/storage/upload/initiate-multipart``: a signed multipart upload URL."""
    _storage_type(request)
    storage = storage_of(request)
    name, ctype = await _initiate_body(request)
    cfg = uploads(request)
    key = new_key(name)
    file_expiry = _file_expiry(request)
    upload_id = await storage.create_multipart(key, ctype, file_name=name, expires_at=file_expiry)
    grant = Grant(
        key=key,
        exp=int(clock_now() + cfg.url_ttl),
        content_type=ctype,
        file_expires_at=file_expiry,
        upload_id=upload_id,
    )
    return await _answer(request, grant)


def _grant(request: Request, key: str) -> Grant:
    q = request.query_params
    exp, sig = q.get("exp", ""), q.get("sig", "")
    x = q.get("x")
    if not exp.isdigit() or not sig or (x is not None and not x.isdigit()):
        raise Forbidden("Upload URL is not signed")
    grant = Grant(
        key=key,
        exp=int(exp),
        content_type=q.get("ct", ""),
        file_expires_at=None if x is None else int(x),
        upload_id=q.get("uid", ""),
    )
    if not uploads(request).signer.verify(grant.message(), sig):
        raise Forbidden("Upload URL signature does not match")
    if grant.exp <= clock_now():
        raise Forbidden("Upload URL has expired")
    return grant


_uploading: dict[str, tuple[asyncio.Lock, list[int]]] = {}  # key -> (lock, [users])


@contextlib.asynccontextmanager
async def _single_use(key: str) -> AsyncIterator[None]:
    """Uploads to one key run one at a time in this process, so that the second of two
    concurrent PUTs sees the first one's file."""
    lock, users = _uploading.setdefault(key, (asyncio.Lock(), [0]))
    users[0] += 1
    try:
        async with lock:
            yield
    finally:
        users[0] -= 1
        if not users[0]:
            del _uploading[key]


def _split(request: Request) -> tuple[str, str]:
    """``(key, last segment)`` of a multipart PUT/POST path."""
    key, _, last = request.path_params["key"].rpartition("/")
    if not key:
        raise NotFound(f"Path {request.url.path} not found")
    return key, last


async def put(request: Request) -> Response:
    """``PUT`` a signed URL: the whole file, or part ``<n>`` of a multipart upload."""
    storage = storage_of(request)
    path = request.path_params["key"]
    if "uid" not in request.query_params:
        validate_key(path)
        grant = _grant(request, path)
        check_declared_size(request, storage)
        async with _single_use(grant.key):
            # one use: a stored file is never overwritten through its upload URL (a failed
            # upload stored nothing, so it may be tried again)
            if await storage.stat(grant.key) is not None:
                raise Forbidden("Upload URL was already used")
            await storage.put(
                grant.key,
                body_stream(request),
                content_type=grant.content_type or "application/octet-stream",
                expires_at=grant.file_expires_at,
            )
        return JSONResponse({})
    key, last = _split(request)
    if not last.isdigit() or len(last) > 5:
        raise NotFound(f"Path {request.url.path} not found")
    validate_key(key)
    grant = _grant(request, key)
    check_declared_size(request, storage)
    number = int(last)
    etag = await storage.put_part(key, grant.upload_id, number, body_stream(request))
    return JSONResponse({"partNumber": number, "etag": f'"{etag}"'}, headers={"etag": f'"{etag}"'})


async def complete(request: Request) -> Response:
    """``POST <signed path>/complete?<query>`` with ``{"parts": [...]}``."""
    storage = storage_of(request)
    key, last = _split(request)
    if last != "complete" or "uid" not in request.query_params:
        raise NotFound(f"Path {request.url.path} not found")
    validate_key(key)
    grant = _grant(request, key)
    parts = parse_parts(parse_json_object(await read_body(request, SMALL_BODY)))
    await storage.complete_multipart(key, grant.upload_id, parts)
    return JSONResponse({"file_url": file_url(request, key)})


async def auth_token(request: Request) -> Response:
    """``POST /rest/storage/auth/token``: a CDN bearer token (PROTOCOL.md §8.1 a)."""
    _storage_type(request)
    cfg = uploads(request)
    expiry = int(clock_now() + cfg.url_ttl)
    return JSONResponse(
        {
            "token": cfg.signer.token(expiry, request.scope.get("openfal.owner") or ""),
            "token_type": "Bearer",
            "base_url": f"{base_url(request)}/cdn",
            "expires_at": dt.datetime.fromtimestamp(expiry, dt.UTC).isoformat(),
        }
    )


FORM_OVERHEAD = 1024 * 1024  # bytes of multipart framing allowed on top of the file size


def _limited(request: Request, limit: int | None) -> Request:
    """``request`` whose body read fails with 413 once it passes ``limit`` bytes."""
    if limit is None:
        return request
    receive, seen = request.receive, 0

    async def counted() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise PayloadTooLarge(f"Upload is larger than the limit of {limit} bytes")
        return message

    return Request(request.scope, counted)


async def _form_file(request: Request, limit: int | None) -> tuple[UploadFile, str | None]:
    """The one file of a ``multipart/form-data`` body (field ``file``, or the only file)."""
    bounded = _limited(request, None if limit is None else limit + FORM_OVERHEAD)
    form = await bounded.form(max_files=1, max_fields=10)
    files = [v for v in form.values() if isinstance(v, UploadFile)]
    if not files:
        raise BadRequest('The form has no file: send it as a file field, e.g. -F "file=@x.png"')
    name = form.get("file_name")
    return files[0], name if isinstance(name, str) else None


async def _chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(1024 * 1024):
        yield chunk


async def upload(request: Request) -> Response:
    """``POST /rest/storage/upload``: one file as the raw body or a form field, for curl.

    Raw bodies take their name from ``?file_name=`` or ``X-Fal-File-Name`` and their type
    from ``Content-Type``. Answers the file in fal's ``File`` shape:
    ``{"url", "content_type", "file_name", "file_size"}``.
    """
    storage = storage_of(request)
    check_declared_size(request, storage)
    content_type = request.headers.get("content-type", "")
    expiry = expires_at(request)
    if content_type.startswith("application/x-www-form-urlencoded"):
        raise BadRequest(
            "Send the file as a form field (curl -F file=@x.png) or as the raw body "
            "(curl --data-binary @x.png -H 'content-type: image/png')"
        )
    if content_type.startswith("multipart/form-data"):
        form_file, name = await _form_file(request, storage.max_size)
        name = name or form_file.filename
        ctype = (form_file.content_type or "application/octet-stream").split(";")[0]
        data: AsyncIterator[bytes] = _chunks(form_file)
    else:
        name = request.query_params.get("file_name") or request.headers.get("x-fal-file-name")
        ctype = content_type or "application/octet-stream"
        data = body_stream(request)
    key = new_key(name)
    info = await storage.put(key, data, content_type=ctype, file_name=name, expires_at=expiry)
    await record_file_owner(request, key, request.scope.get("openfal.owner"))
    return JSONResponse(
        {
            "url": file_url(request, key),
            "content_type": info.content_type,
            "file_name": info.file_name,
            "file_size": info.size,
        }
    )
