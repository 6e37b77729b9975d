"""Each user sees only their own requests and uploads; ADMIN keys see everything.

Another user's request or file answers exactly what an unknown id answers.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import httpx

from openfal.store import KeyScope

from .conftest import Gateway


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def same_answer(a: httpx.Response, b: httpx.Response) -> None:
    """``a`` (someone else's) is indistinguishable from ``b`` (an unknown id)."""
    assert (a.status_code, b.status_code) == (404, 404)
    assert a.headers.get("content-type") == b.headers.get("content-type")
    assert a.headers.get("x-fal-error-type") == b.headers.get("x-fal-error-type")


def unknown(url: str, request_id: str) -> str:
    return url.replace(request_id, "00000000-0000-4000-8000-000000000000")


async def test_user_b_gets_404_for_everything_of_user_a(gw: Gateway) -> None:
    alice = await gw.key("alice", "alice")
    bob = await gw.key("bob", "bob")
    admin = await gw.key("admin", "root", KeyScope.ADMIN)
    sub = await gw.submit(alice)
    done = await gw.submit(alice)
    await gw.finish(done["request_id"])
    rid = sub["request_id"]
    c = gw.client

    checks: list[tuple[str, str]] = [
        ("GET", sub["status_url"]),
        ("GET", sub["status_url"] + "?logs=1"),
        ("GET", sub["status_url"] + "/stream"),
        ("GET", done["response_url"]),
        ("PUT", sub["cancel_url"]),
    ]
    for method, url in checks:
        own_id = done["request_id"] if url == done["response_url"] else rid
        theirs = await c.request(method, url, headers=bob)
        nobody = await c.request(method, unknown(url, own_id), headers=bob)
        same_answer(theirs, nobody)
        assert theirs.json() == {
            k: (
                v.replace("00000000-0000-4000-8000-000000000000", own_id)
                if isinstance(v, str)
                else v
            )
            for k, v in nobody.json().items()
        }, (method, url)

    # the owner and an admin see it; bob's cancel did nothing
    assert (await c.get(sub["status_url"], headers=alice)).json()["status"] == "IN_QUEUE"
    assert (await c.get(sub["status_url"], headers=admin)).status_code == 202
    r = await c.get(done["response_url"], headers=admin)
    assert r.status_code == 200 and r.json() == {"message": "hi"}
    async with c.stream("GET", done["status_url"] + "/stream", headers=alice) as stream:
        assert stream.status_code == 200
        events = [line async for line in stream.aiter_lines() if line.startswith("data:")]
    assert '"COMPLETED"' in events[-1]
    assert (await c.put(sub["cancel_url"], headers=admin)).status_code == 202


async def test_requests_are_owned_by_the_keys_user_across_keys(gw: Gateway) -> None:
    first = await gw.key("laptop", "alice")
    second = await gw.key("ci", "alice")  # the same user, another key
    sub = await gw.submit(first)
    rec = await gw.store.get(sub["request_id"])
    assert rec is not None and rec.owner == "alice"
    assert (await gw.client.get(sub["status_url"], headers=second)).status_code == 202
    mine = await gw.store.list_requests(owner="alice")
    assert [r.id for r in mine] == [sub["request_id"]]


async def upload_cdn(gw: Gateway, headers: dict[str, str], data: bytes) -> str:
    """The Python client's way: a CDN token from REST, then the CDN upload."""
    token = await gw.client.post(
        "/rest/storage/auth/token?storage_type=fal-cdn-v3", json={}, headers=headers
    )
    assert token.status_code == 200, token.text
    auth = f"{token.json()['token_type']} {token.json()['token']}"
    r = await gw.client.post(
        "/cdn/files/upload",
        content=data,
        headers={"authorization": auth, "content-type": "text/plain"},
    )
    assert r.status_code == 200, r.text
    url: str = r.json()["access_url"]
    return url


async def upload_initiate(gw: Gateway, headers: dict[str, str], data: bytes) -> str:
    """The JS client's way: initiate with the key, then a bare PUT to the signed URL."""
    r = await gw.client.post(
        "/rest/storage/upload/initiate?storage_type=fal-cdn-v3",
        json={"file_name": "a.txt", "content_type": "text/plain"},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    put = await gw.client.put(path_of(r.json()["upload_url"]), content=data)
    assert put.status_code == 200, put.text
    url: str = r.json()["file_url"]
    return url


async def upload_plain(gw: Gateway, headers: dict[str, str], data: bytes) -> str:
    """curl's way: the raw body to /rest/storage/upload."""
    r = await gw.client.post(
        "/rest/storage/upload?file_name=a.txt",
        content=data,
        headers={**headers, "content-type": "text/plain"},
    )
    assert r.status_code == 200, r.text
    url: str = r.json()["url"]
    return url


async def test_uploaded_files_are_their_uploaders(gw: Gateway) -> None:
    alice = await gw.key("alice", "alice")
    bob = await gw.key("bob", "bob")
    admin = await gw.key("admin", "root", KeyScope.ADMIN)
    c = gw.client
    for upload in (upload_cdn, upload_initiate, upload_plain):
        url = path_of(await upload(gw, alice, b"alice's file"))
        assert (await c.get(url, headers=alice)).content == b"alice's file"
        assert (await c.get(url, headers=admin)).content == b"alice's file"
        theirs = await c.get(url, headers=bob)
        nobody = await c.get(url[: url.rindex("/")] + "/missing.txt", headers=bob)
        same_answer(theirs, nobody)
        assert theirs.json() == nobody.json() == {"detail": "File not found"}
        assert (await c.head(url, headers=bob)).status_code == 404
        same_answer(await c.get(url), nobody)  # no key at all: no better
        r = await c.get(url, headers={"authorization": "Key forged:secret"})
        assert r.status_code == 401


async def test_cdn_multipart_uploads_are_owned_too(gw: Gateway) -> None:
    alice = await gw.key("alice", "alice")
    bob = await gw.key("bob", "bob")
    token = (await gw.client.post("/rest/storage/auth/token", json={}, headers=alice)).json()[
        "token"
    ]
    bearer = {"authorization": f"Bearer {token}"}
    made = await gw.client.post(
        "/cdn/files/upload/multipart", headers={**bearer, "content-type": "text/plain"}
    )
    assert made.status_code == 200, made.text
    base = path_of(made.json()["access_url"])
    upload_id = made.json()["uploadId"]
    part = await gw.client.put(f"{base}/multipart/{upload_id}/1", content=b"part", headers=bearer)
    assert part.status_code == 200, part.text
    done = await gw.client.post(
        f"{base}/multipart/{upload_id}/complete",
        json={"parts": [{"partNumber": 1, "etag": part.headers["etag"]}]},
        headers=bearer,
    )
    assert done.status_code == 200, done.text
    assert (await gw.client.get(base, headers=alice)).content == b"part"
    assert (await gw.client.get(base, headers=bob)).status_code == 404


async def test_files_without_an_owner_are_readable_by_url(gw: Gateway) -> None:
    """What apps write (and what was uploaded in dev mode) has no owner: the URL is the
    capability, as on fal's CDN."""
    url = path_of(await upload_cdn(gw, {}, b"made in dev mode"))
    bob = await gw.key("bob", "bob")
    assert (await gw.client.get(url, headers=bob)).content == b"made in dev mode"
    assert (await gw.client.get(url)).content == b"made in dev mode"


async def test_uploads_need_a_key_or_a_cdn_token_once_keys_exist(gw: Gateway) -> None:
    await gw.key("alice", "alice")
    r = await gw.client.post("/cdn/files/upload", content=b"x")
    assert r.status_code == 401 and r.json()["detail"] == "Invalid API key"
    r = await gw.client.post("/rest/storage/upload/initiate", json={})
    assert r.status_code == 401
    forged: dict[str, Any] = {"authorization": "Bearer 9999999999.forged"}
    r = await gw.client.post("/cdn/files/upload", content=b"x", headers=forged)
    assert r.status_code == 401
