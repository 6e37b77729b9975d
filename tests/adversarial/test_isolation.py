"""Every cross-owner path answers 404 (or 403) for another user's key, in-process.

Status, logs, status stream, result, cancel, files, the JS client's proxy, tokens, and this
server's file URLs given as app inputs. Credentials minted while the server had no keys stand
for nobody: once a key exists they are 401.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from openfal import toolkit
from openfal.store import KeyScope
from tests.auth.conftest import ECHO, Gateway, GatewayFactory, make_gateway, register
from tests.auth.test_isolation import path_of, upload_cdn, upload_initiate, upload_plain

__all__ = ["make_gateway"]

CHECKSUM = "test/images/checksum"


@pytest.fixture(autouse=True)
def public_url() -> Iterator[None]:
    """The in-process gateway's own file URLs are http://testserver/files/..."""
    toolkit.configure(public_url="http://testserver")
    yield
    toolkit.configure()


@pytest.fixture
async def gw(make_gateway: GatewayFactory) -> Gateway:
    gw = await make_gateway()
    await register(gw.store, gw.app.state.registry, "images")
    return gw


async def _token(gw: Gateway, headers: dict[str, str], app: str = ECHO) -> dict[str, str]:
    r = await gw.client.post("/rest/tokens/", json={"allowed_apps": [app]}, headers=headers)
    assert r.status_code == 200, r.text
    return {"authorization": f"Bearer {r.json()}"}


def _proxy(url: str) -> dict[str, str]:
    return {"x-fal-target-url": url.replace("http://testserver/", "https://queue.fal.run/")}


async def test_another_users_key_or_token_gets_404_everywhere(gw: Gateway) -> None:
    alice = await gw.key("alice", "alice")
    bob = await gw.key("bob", "bob")
    admin = await gw.key("admin", "root", KeyScope.ADMIN)
    queued = await gw.submit(alice)
    done = await gw.submit(alice)
    await gw.finish(done["request_id"])
    files = [
        path_of(await up(gw, alice, b"alice's"))
        for up in (upload_cdn, upload_initiate, upload_plain)
    ]
    bob_token = await _token(gw, bob)

    table: list[tuple[str, str, dict[str, str]]] = [
        ("GET", queued["status_url"], {}),
        ("GET", queued["status_url"] + "?logs=1", {}),
        ("GET", queued["status_url"] + "/stream", {}),
        ("GET", done["response_url"], {}),
        ("PUT", queued["cancel_url"], {}),
        ("GET", "/api/fal/proxy", _proxy(queued["status_url"])),
        ("GET", "/api/fal/proxy", _proxy(done["response_url"])),
        ("PUT", "/api/fal/proxy", _proxy(queued["cancel_url"])),
    ]
    table += [(m, f, {}) for f in files for m in ("GET", "HEAD")]
    for who in (bob, bob_token):
        for method, url, extra in table:
            r = await gw.client.request(method, url, headers={**who, **extra})
            assert r.status_code in (401, 403, 404), (method, url, r.status_code, r.text)
            assert r.status_code != 401 or who is bob_token  # a token is for apps, not files
    # the owner and an admin still see everything; bob's cancels did nothing
    for method, url, _ in table[:2] + table[3:4]:
        assert (await gw.client.request(method, url, headers=alice)).status_code in (200, 202)
        assert (await gw.client.request(method, url, headers=admin)).status_code in (200, 202)
    assert (await gw.store.get(queued["request_id"])).cancel_requested is False  # type: ignore[union-attr]


@pytest.mark.parametrize("form", ["string", "object"])
async def test_another_users_file_url_as_an_app_input_is_a_422(gw: Gateway, form: str) -> None:
    alice = await gw.key("alice", "alice")
    bob = await gw.key("bob", "bob")
    admin = await gw.key("admin", "root", KeyScope.ADMIN)
    url = await upload_plain(gw, alice, b"alice's secret")
    value: object = url if form == "string" else {"url": url}
    for who in (bob, await _token(gw, bob, "test/images")):
        r = await gw.client.post(f"/queue/{CHECKSUM}", json={"file": value}, headers=who)
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == ["body", "file"]
        assert r.json()["detail"][0]["type"] == "file_not_found"
    # a missing file answers the same; the owner and an admin may use it
    missing = url[: url.rindex("/")] + "/missing.txt"
    r = await gw.client.post(f"/queue/{CHECKSUM}", json={"file": missing}, headers=bob)
    assert r.status_code == 422
    for who in (alice, admin):
        r = await gw.client.post(f"/queue/{CHECKSUM}", json={"file": value}, headers=who)
        assert r.status_code == 200, r.text
    assert sorted(str(r.owner) for r in await gw.store.list_requests()) == ["alice", "root"]


async def test_credentials_minted_without_keys_are_401_once_keys_exist(gw: Gateway) -> None:
    jwt = await _token(gw, {})  # dev mode: no keys yet
    cdn = await gw.client.post("/rest/storage/auth/token?storage_type=fal-cdn-v3", json={})
    assert cdn.status_code == 200, cdn.text
    cdn_auth = {"authorization": f"Bearer {cdn.json()['token']}", "content-type": "text/plain"}
    assert (
        await gw.client.post(f"/queue/{ECHO}", json={"message": "x"}, headers=jwt)
    ).status_code == 200
    assert (
        await gw.client.post("/cdn/files/upload", content=b"x", headers=cdn_auth)
    ).status_code == 200

    alice = await gw.key("alice", "alice")
    r = await gw.client.post(f"/queue/{ECHO}", json={"message": "x"}, headers=jwt)
    assert r.status_code == 401, r.text
    r = await gw.client.get(
        f"/queue/{ECHO}/requests/x/status", params={"fal_jwt_token": jwt["authorization"][7:]}
    )
    assert r.status_code == 401, r.text
    r = await gw.client.post("/cdn/files/upload", content=b"x", headers=cdn_auth)
    assert r.status_code == 401, r.text
    # credentials minted with the key work
    fresh = await _token(gw, alice)
    assert (
        await gw.client.post(f"/queue/{ECHO}", json={"message": "x"}, headers=fresh)
    ).status_code == 200
    await upload_cdn(gw, alice, b"mine")


async def test_runner_urls_and_app_sources_are_for_admins(gw: Gateway) -> None:
    bob = await gw.key("bob", "bob")
    admin = await gw.key("admin", "root", KeyScope.ADMIN)
    r = await gw.client.get("/rest/runners", headers=bob)
    assert r.status_code == 403 and r.json()["error_type"] == "forbidden"
    assert (await gw.client.get("/rest/runners", headers=admin)).status_code == 200
    seen = (await gw.client.get("/rest/apps", headers=bob)).json()
    assert seen and all(a["source"] is None for a in seen)
    assert all(a["source"] for a in (await gw.client.get("/rest/apps", headers=admin)).json())


@pytest.mark.e2e
def test_a_runner_never_reads_another_users_file_through_an_input(serve: Any) -> None:
    """The reproduction: Bob passes Alice's file URL to an app that downloads its input."""
    s = serve("images")
    alice = {"authorization": f"Key {s.create_key('alice')}"}
    bob = {"authorization": f"Key {s.create_key('bob')}"}
    with s.client() as c:
        up = c.post(
            "/rest/storage/upload?file_name=secret.txt",
            content=b"alice's secret",
            headers={**alice, "content-type": "text/plain"},
        )
        assert up.status_code == 200, up.text
        url = up.json()["url"]
        for path in ("/test/images/checksum", "/queue/test/images/checksum"):
            r = c.post(path, json={"file": url}, headers=bob)
            assert r.status_code == 422, r.text
            assert r.json()["detail"][0]["loc"] == ["body", "file"]
        mine = c.post("/test/images/checksum", json={"file": url}, headers=alice)
        assert mine.status_code == 200, mine.text
        assert mine.json()["size"] == len(b"alice's secret")
