"""File serving, REST storage and CDN uploads in-process (PROTOCOL.md §8)."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from openfal.gateway import create_app
from openfal.gateway.routes.files import Signer, UploadConfig
from openfal.server.secrets import file_secret
from openfal.storage import Storage
from openfal.store import Store

MIB = 1024 * 1024


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Storage]]:
    store = Store.from_url("memory://")
    await store.open()
    storage = Storage.from_url(
        f"file://{tmp_path / 'files'}", max_size=12 * MIB, min_part_size=MIB, fsync=False
    )
    await storage.open()
    app = create_app(store, storage=storage)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as c:
        c.app = app  # type: ignore[attr-defined]
        yield c, storage
    await storage.close()
    await store.close()


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def cdn_upload(c: httpx.AsyncClient, data: bytes, ctype: str = "text/plain", **h) -> str:
    r = await c.post("/cdn/files/upload", content=data, headers={"content-type": ctype, **h})
    assert r.status_code == 200, r.text
    url: str = r.json()["access_url"]
    assert url.startswith("http://testserver/files/")
    return url


# ---------------------------------------------------------------------------- serving


async def test_get_and_head_serve_content_type_length_etag(env):
    c, _ = env
    url = await cdn_upload(c, b"hello world", "text/plain", **{"x-fal-file-name": "a b.txt"})
    assert url.endswith("/a_b.txt")
    r = await c.get(path_of(url))
    assert r.status_code == 200 and r.content == b"hello world"
    assert r.headers["content-type"].startswith("text/plain")
    assert r.headers["content-length"] == "11"
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["etag"] == f'"{hashlib.md5(b"hello world").hexdigest()}"'
    h = await c.head(path_of(url))
    assert h.status_code == 200 and h.content == b""
    assert h.headers["content-length"] == "11" and h.headers["etag"] == r.headers["etag"]


@pytest.mark.parametrize(
    ("header", "status", "body", "content_range"),
    [
        ("bytes=0-4", 206, b"01234", "bytes 0-4/10"),
        ("bytes=7-", 206, b"789", "bytes 7-9/10"),
        ("bytes=-3", 206, b"789", "bytes 7-9/10"),
        ("bytes=8-100", 206, b"89", "bytes 8-9/10"),
        ("bytes=10-", 416, None, "bytes */10"),
        ("bytes=-0", 416, None, "bytes */10"),
        ("bytes=5-2", 200, b"0123456789", None),
        ("items=1-2", 200, b"0123456789", None),
    ],
)
async def test_ranges(env, header, status, body, content_range):
    c, _ = env
    url = await cdn_upload(c, b"0123456789")
    r = await c.get(path_of(url), headers={"range": header})
    assert r.status_code == status, r.text
    if body is not None:
        assert r.content == body
        assert r.headers["content-length"] == str(len(body))
    else:
        assert r.json()["error_type"] == "range_not_satisfiable"
    assert r.headers.get("content-range") == content_range


async def test_traversal_and_absolute_keys_are_400_unknown_404(env):
    c, _ = env
    for path in ("/files/abc/%2E%2E/%2E%2E/etc/passwd", "/files//etc/passwd", "/files/a%5Cb"):
        r = await c.get(path)
        assert r.status_code == 400, (path, r.text)
        assert r.json()["error_type"] == "bad_request"
    r = await c.get("/files/0123456789abcdef0123456789abcdef/nothing.txt")
    assert r.status_code == 404 and "detail" in r.json()


async def test_file_urls_follow_the_request_host(env):
    c, _ = env
    r = await c.post(
        "http://files.example:8443/cdn/files/upload",
        content=b"x",
        headers={"content-type": "text/plain"},
    )
    assert r.json()["access_url"].startswith("http://files.example:8443/files/")


async def test_no_storage_is_503(tmp_path):
    store = Store.from_url("memory://")
    await store.open()
    app = create_app(store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.post("/cdn/files/upload", content=b"x")
        assert r.status_code == 503 and r.json()["error_type"] == "storage_unavailable"
    await store.close()


# ---------------------------------------------------------------------------- REST storage


async def initiate(c: httpx.AsyncClient, kind: str = "initiate", **kw) -> dict:
    r = await c.post(
        f"/rest/storage/upload/{kind}?storage_type=gcs",
        json={"file_name": "pic.png", "content_type": "image/png"},
        **kw,
    )
    assert r.status_code == 200, r.text
    body: dict = r.json()
    assert set(body) == {"upload_url", "file_url"}
    return body


async def test_initiate_then_put_stores_with_the_initiated_content_type(env):
    c, _ = env
    body = await initiate(c)
    assert body["file_url"].startswith("http://testserver/files/")
    assert body["file_url"].endswith("/pic.png")
    assert body["upload_url"].startswith("http://testserver/rest/storage/upload/put/")
    r = await c.put(
        path_of(body["upload_url"]),
        content=b"PNGDATA",
        headers={"content-type": "text/plain", "authorization": "Key whatever"},
    )
    assert r.status_code == 200 and r.json() == {}
    got = await c.get(path_of(body["file_url"]))
    assert got.content == b"PNGDATA" and got.headers["content-type"] == "image/png"


async def test_a_signed_upload_url_is_good_for_one_upload(env):
    c, _ = env
    url = path_of((await initiate(c))["upload_url"])
    file_url = url.replace("/rest/storage/upload/put/", "/files/").split("?")[0]
    first, second = await asyncio.gather(
        c.put(url, content=b"first" * 1000), c.put(url, content=b"second" * 1000)
    )
    assert sorted([first.status_code, second.status_code]) == [200, 403]
    again = await c.put(url, content=b"overwrite")
    assert again.status_code == 403 and again.json()["detail"] == "Upload URL was already used"
    assert (await c.get(file_url)).content in (b"first" * 1000, b"second" * 1000)


async def test_tampered_or_expired_upload_urls_are_403(env, monkeypatch):
    c, _ = env
    body = await initiate(c)
    url = path_of(body["upload_url"])
    r = await c.put(url.replace("ct=image", "ct=text"), content=b"x")
    assert r.status_code == 403 and r.json()["error_type"] == "forbidden"
    r = await c.put(url.split("?")[0], content=b"x")
    assert r.status_code == 403
    import openfal.gateway.routes.storage as mod

    later = dt.datetime.now(dt.UTC).timestamp() + 3601
    monkeypatch.setattr(mod, "clock_now", lambda: later)
    r = await c.put(url, content=b"x")
    assert r.status_code == 403 and "expired" in r.json()["detail"]


async def test_signed_urls_survive_a_restart_with_the_same_secret(env, tmp_path):
    c, _ = env
    secret = file_secret(tmp_path / "upload.key")
    assert file_secret(tmp_path / "upload.key") == secret
    c.app.state.uploads = UploadConfig(signer=Signer(secret))
    url = path_of((await initiate(c))["upload_url"])
    c.app.state.uploads = UploadConfig(signer=Signer(secret))
    assert (await c.put(url, content=b"ok")).status_code == 200
    c.app.state.uploads = UploadConfig()  # a fresh random secret
    assert (await c.put(url, content=b"ok")).status_code == 403


async def test_rest_multipart_upload_js_style(env):
    c, _ = env
    body = await initiate(c, "initiate-multipart")
    parts_data = [b"a" * MIB, b"b" * MIB, b"c" * 10]
    path, _, query = path_of(body["upload_url"]).partition("?")
    parts = []
    for n, chunk in enumerate(parts_data, 1):
        r = await c.put(f"{path}/{n}?{query}", content=chunk)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/json"
        info = r.json()
        assert info["partNumber"] == n and info["etag"]
        parts.append(info)
    r = await c.post(f"{path}/complete?{query}", json={"parts": parts[::-1]})
    assert r.status_code == 200, r.text
    got = await c.get(path_of(body["file_url"]))
    assert got.content == b"".join(parts_data)
    assert got.headers["content-type"] == "image/png"


async def test_cdn_token_shape(env):
    c, _ = env
    r = await c.post("/rest/storage/auth/token?storage_type=fal-cdn-v3", json={})
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "Bearer" and body["token"]
    assert body["base_url"] == "http://testserver/cdn"
    expires = dt.datetime.fromisoformat(body["expires_at"])
    assert expires.utcoffset() == dt.timedelta(0)
    assert body["expires_at"].endswith("+00:00")
    assert expires > dt.datetime.now(dt.UTC)


async def test_bad_storage_type_is_400(env):
    c, _ = env
    r = await c.post("/rest/storage/upload/initiate?storage_type=s4", json={})
    assert r.status_code == 400


# ---------------------------------------------------------------------------- CDN


async def test_cdn_accepts_its_own_token_and_rejects_a_forged_one(env):
    c, _ = env
    token = (await c.post("/rest/storage/auth/token?storage_type=fal-cdn-v3")).json()["token"]
    await cdn_upload(c, b"x", authorization=f"Bearer {token}")
    r = await c.post(
        "/cdn/files/upload", content=b"x", headers={"authorization": f"Bearer {token}x"}
    )
    assert r.status_code == 401
    await cdn_upload(c, b"x", authorization="Key anything")


async def test_cdn_multipart_python_style(env):
    c, _ = env
    r = await c.post(
        "/cdn/files/upload/multipart",
        headers={"content-type": "application/zip", "x-fal-file-name": "big.zip"},
    )
    assert r.status_code == 200, r.text
    access_url, upload_id = r.json()["access_url"], r.json()["uploadId"]
    assert access_url.endswith("/big.zip")
    chunks = [b"1" * MIB, b"2" * MIB, b"3" * 5]
    parts = []
    for n in (3, 1, 2):  # completion order, not part order
        r = await c.put(f"{path_of(access_url)}/multipart/{upload_id}/{n}", content=chunks[n - 1])
        assert r.status_code == 200, r.text
        parts.append({"partNumber": n, "etag": r.headers["etag"]})
    assert parts[0]["etag"].startswith('"')
    r = await c.post(f"{path_of(access_url)}/multipart/{upload_id}/complete", json={"parts": parts})
    assert r.status_code == 200, r.text
    got = await c.get(path_of(access_url))
    assert got.content == b"".join(chunks)
    assert got.headers["content-type"] == "application/zip"


async def test_multipart_with_unknown_upload_is_400(env):
    c, _ = env
    r = await c.put("/files/0123456789abcdef0123456789abcdef/x.bin/multipart/abc/1", content=b"x")
    assert r.status_code == 400


# ---------------------------------------------------------------------------- limits, lifecycle


async def test_too_large_is_413(env):
    c, _ = env
    big = b"x" * (12 * MIB + 1)
    r = await c.post("/cdn/files/upload", content=big)
    assert r.status_code == 413
    assert r.json()["error_type"] == "payload_too_large" and "detail" in r.json()

    async def chunks() -> AsyncIterator[bytes]:  # no content-length: caught while streaming
        for _ in range(13):
            yield b"x" * MIB

    r = await c.post("/cdn/files/upload", content=chunks())
    assert r.status_code == 413
    body = await initiate(c)
    r = await c.put(path_of(body["upload_url"]), content=big)
    assert r.status_code == 413


async def test_lifecycle_header_sets_expiry_and_default_retention_otherwise(env):
    c, storage = env
    now = dt.datetime.now(dt.UTC).timestamp()
    url = await cdn_upload(
        c,
        b"x",
        **{"x-fal-object-lifecycle": json.dumps({"expiration_duration_seconds": 60})},
    )
    info = await storage.stat(urlsplit(url).path.removeprefix("/files/"))
    assert info is not None and info.expires_at is not None
    assert now + 55 < info.expires_at < now + 120
    url = await cdn_upload(c, b"y")
    info = await storage.stat(urlsplit(url).path.removeprefix("/files/"))
    assert info is not None and info.expires_at is not None
    assert now + 6 * 86400 < info.expires_at < now + 8 * 86400
    # storage fallback: the lifecycle travels in the signed URL
    body = await initiate(
        c, headers={"x-fal-object-lifecycle-preference": '{"expiration_duration_seconds": 30}'}
    )
    assert (await c.put(path_of(body["upload_url"]), content=b"z")).status_code == 200
    info = await storage.stat(urlsplit(body["file_url"]).path.removeprefix("/files/"))
    assert info is not None and info.expires_at is not None and info.expires_at < now + 60
    r = await c.post("/cdn/files/upload", content=b"x", headers={"x-fal-object-lifecycle": "{"})
    assert r.status_code == 400


async def test_expired_file_is_404(env):
    c, storage = env
    url = await cdn_upload(c, b"x")
    key = urlsplit(url).path.removeprefix("/files/")
    await storage.put(key, b"x", expires_at=1.0)
    assert (await c.get(path_of(url))).status_code == 404


async def test_serve_sweeper_removes_expired_files(env):
    import asyncio

    from openfal.server import sweep_storage

    _, storage = env
    await storage.put("0123456789abcdef0123456789abcdef/old.txt", b"x", expires_at=1.0)
    await storage.put("0123456789abcdef0123456789abcdef/new.txt", b"x", expires_at=None)
    task = asyncio.create_task(sweep_storage(storage, 0.01))
    try:
        deadline = asyncio.get_running_loop().time() + 30
        while await storage.exists("0123456789abcdef0123456789abcdef/old.txt"):
            assert asyncio.get_running_loop().time() < deadline, "sweeper never ran"
            await asyncio.sleep(0.01)
    finally:
        task.cancel()
    assert await storage.exists("0123456789abcdef0123456789abcdef/new.txt")


# ---------------------------------------------------------------------------- plain upload


async def test_plain_upload_raw_body(env):
    c, _ = env
    r = await c.post(
        "/rest/storage/upload?file_name=notes.txt",
        content=b"plain text",
        headers={"content-type": "text/plain"},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"url", "content_type", "file_name", "file_size"}
    assert body["url"].startswith("http://testserver/files/") and body["url"].endswith("/notes.txt")
    assert (body["content_type"], body["file_name"], body["file_size"]) == (
        "text/plain",
        "notes.txt",
        10,
    )
    got = await c.get(path_of(body["url"]))
    assert got.content == b"plain text" and got.headers["content-type"] == "text/plain"
    r = await c.post("/rest/storage/upload", content=b"\0\1", headers={"x-fal-file-name": "a.bin"})
    assert r.json()["file_name"] == "a.bin"
    assert r.json()["content_type"] == "application/octet-stream"


async def test_plain_upload_form(env):
    c, _ = env
    data = bytes(range(256)) * 4096  # 1 MiB: spooled to disk by the form parser
    r = await c.post(
        "/rest/storage/upload",
        files={"file": ("photo.png", data, "image/png")},
        headers={"x-fal-object-lifecycle-preference": '{"expiration_duration_seconds": 600}'},
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["file_name"], body["content_type"], body["file_size"]) == (
        "photo.png",
        "image/png",
        len(data),
    )
    got = await c.get(path_of(body["url"]))
    assert hashlib.sha256(got.content).digest() == hashlib.sha256(data).digest()
    r = await c.post(
        "/rest/storage/upload", files={"file": ("a.txt", b"x")}, data={"file_name": "b.txt"}
    )
    assert r.json()["file_name"] == "b.txt"
    r = await c.post("/rest/storage/upload", data={"note": "no file"})  # curl -d
    assert r.status_code == 400 and "--data-binary" in r.json()["detail"]


async def test_plain_upload_without_a_file_is_400(env):
    c, _ = env
    r = await c.post(
        "/rest/storage/upload",
        content=b'--xyz\r\nContent-Disposition: form-data; name="a"\r\n\r\nb\r\n--xyz--\r\n',
        headers={"content-type": "multipart/form-data; boundary=xyz"},
    )
    assert r.status_code == 400 and "no file" in r.json()["detail"]


async def test_plain_upload_too_large_is_413(env):
    c, _ = env
    big = b"x" * (12 * MIB + 1)
    r = await c.post("/rest/storage/upload", content=big)
    assert r.status_code == 413

    async def chunks() -> AsyncIterator[bytes]:  # no content-length: caught while streaming
        for _ in range(14):
            yield b"x" * MIB

    r = await c.post("/rest/storage/upload", content=chunks())
    assert r.status_code == 413
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"'
        "\r\nContent-Type: application/octet-stream\r\n\r\n"
    ).encode()

    async def form() -> AsyncIterator[bytes]:
        yield head
        for _ in range(14):
            yield b"y" * MIB
        yield f"\r\n--{boundary}--\r\n".encode()

    r = await c.post(
        "/rest/storage/upload",
        content=form(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert r.status_code == 413, r.text
