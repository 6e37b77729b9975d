"""Who may call: dev mode, keys, tokens, revocation, /rest/keys and the WebSocket handshake."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient, WebSocketDenialResponse

from openfal.gateway.auth import AuthSettings, access, app_of, credentials, is_loopback
from openfal.gateway.errors import Forbidden
from openfal.store import KeyScope

from .conftest import ECHO, Gateway, GatewayFactory

INVALID = {"detail": "Invalid API key", "error_type": "unauthorized"}


def assert_invalid_key(r: Any) -> None:
    assert r.status_code == 401, r.text
    assert r.json() == INVALID
    assert r.headers["x-fal-error-type"] == "unauthorized"
    assert r.headers["x-fal-request-id"]
    assert r.headers["www-authenticate"] == "Key"


async def test_dev_mode_allows_anything_until_the_first_key(gw: Gateway) -> None:
    # the official clients always send some key: it is ignored while no key exists
    await gw.submit({"authorization": "Key whatever"})
    await gw.submit({})
    alice = await gw.key("alice", "alice")
    assert_invalid_key(await gw.client.post(f"/queue/{ECHO}", json={"message": "hi"}))
    await gw.submit(alice)


async def test_a_fresh_key_works_on_its_first_request_and_a_revoked_one_never_again(
    gw: Gateway,
) -> None:
    await gw.key("admin", "root", KeyScope.ADMIN)
    fresh = await gw.key("fresh", "bob")
    sub = await gw.submit(fresh)
    assert sub["request_id"]
    key_id = gw.keys["fresh"].split(":")[0]
    assert await gw.store.revoke_key(key_id)
    assert_invalid_key(await gw.client.get(sub["status_url"], headers=fresh))
    assert_invalid_key(await gw.client.post(f"/queue/{ECHO}", json={}, headers=fresh))


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Key",
        "Key nocolon",
        "Key unknown-id:secret",
        "Basic dXNlcjpwYXNz",
        "Bearer not-a-token",
    ],
)
async def test_missing_malformed_and_unknown_keys_are_all_401(
    gw: Gateway, header: str | None
) -> None:
    await gw.key("alice", "alice")
    headers = {"authorization": header} if header is not None else {}
    assert_invalid_key(await gw.client.post(f"/queue/{ECHO}", json={}, headers=headers))
    assert_invalid_key(await gw.client.get("/rest/apps", headers=headers))


async def test_a_wrong_secret_for_a_real_key_id_is_401(gw: Gateway) -> None:
    await gw.key("alice", "alice")
    key_id = gw.keys["alice"].split(":")[0]
    r = await gw.client.get("/rest/apps", headers={"authorization": f"Key {key_id}:{'0' * 64}"})
    assert_invalid_key(r)


async def test_not_on_loopback_a_key_is_required_even_with_none_created(
    make_gateway: GatewayFactory,
) -> None:
    gw = await make_gateway(auth=AuthSettings(open_without_keys=False))
    assert_invalid_key(await gw.client.post(f"/queue/{ECHO}", json={"message": "hi"}))
    assert (await gw.client.get("/health")).status_code == 200  # public paths stay open
    assert (await gw.client.get("/.well-known/jwks.json")).status_code == 200


async def test_bearer_tokens_and_fal_jwt_token_go_through_the_token_hook(
    make_gateway: GatewayFactory,
) -> None:
    def verify(token: str, app_id: str) -> dict[str, Any]:
        if token == "forbidden":
            raise Forbidden(f"Token does not allow app '{app_id}'")
        if token != f"token-for-{app_id}":
            raise ValueError("token for another app")
        return {"sub": "tina", "allowed_apps": [app_id]}

    gw = await make_gateway(auth=AuthSettings(verify_token=verify))
    await gw.key("alice", "alice")
    bearer = {"authorization": f"Bearer token-for-{ECHO}"}
    sub = await gw.submit(bearer)
    rec = await gw.store.get(sub["request_id"])
    assert rec is not None and rec.owner == "tina"
    # the same token in the query, as JS client-mode streams and WebSockets send it
    r = await gw.client.get(sub["status_url"], params={"fal_jwt_token": f"token-for-{ECHO}"})
    assert r.status_code == 202
    wrong = {"authorization": "Bearer token-for-openfal/errors"}
    assert_invalid_key(await gw.client.post(f"/queue/{ECHO}", json={}, headers=wrong))
    # the verifier's own 403 (a valid token, not for this app) comes through as it is
    r = await gw.client.post(
        f"/queue/{ECHO}", json={}, headers={"authorization": "Bearer forbidden"}
    )
    assert r.status_code == 403
    assert r.json() == {"detail": f"Token does not allow app '{ECHO}'", "error_type": "forbidden"}
    # tokens are for apps only, not for the REST surface
    assert_invalid_key(await gw.client.get("/rest/apps", headers=bearer))


async def test_rest_keys_is_for_admin_keys(gw: Gateway) -> None:
    admin = await gw.key("admin", "root", KeyScope.ADMIN)
    alice = await gw.key("alice", "alice")
    r = await gw.client.get("/rest/keys", headers=alice)
    assert r.status_code == 403
    assert r.json() == {"detail": "Managing keys needs an ADMIN key", "error_type": "forbidden"}
    r = await gw.client.post(
        "/rest/keys",
        json={"user": "carol", "description": "ci", "rate_limit": 5},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["user"] == "carol" and made["scope"] == "API" and made["rate_limit"] == 5
    assert made["key"] == f"{made['key_id']}:{made['key_secret']}"
    carol = {"authorization": f"Key {made['key']}"}
    await gw.submit(carol)  # works on its first request
    listed = (await gw.client.get("/rest/keys", headers=admin)).json()
    assert {k["user"] for k in listed} == {"root", "alice", "carol"}
    assert all("secret" not in k and "secret_hash" not in k for k in listed)
    only = (await gw.client.get("/rest/keys", params={"user": "carol"}, headers=admin)).json()
    assert [k["key_id"] for k in only] == [made["key_id"]]
    r = await gw.client.delete(f"/rest/keys/{made['key_id']}", headers=admin)
    assert r.json() == {"key_id": made["key_id"], "revoked": True}
    assert_invalid_key(await gw.client.post(f"/queue/{ECHO}", json={}, headers=carol))
    r = await gw.client.delete(f"/rest/keys/{made['key_id']}", headers=admin)
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"scope": "ROOT"}, "scope"),
        ({"rate_limit": "many"}, "rate_limit"),
        ({"max_concurrent": True}, "max_concurrent"),
        ({"rate_limit": 0}, "rate_limit"),
        ({"user": "a:b"}, "user"),
    ],
)
async def test_rest_keys_names_the_bad_field(gw: Gateway, body: dict[str, Any], field: str) -> None:
    admin = await gw.key("admin", "root", KeyScope.ADMIN)
    r = await gw.client.post("/rest/keys", json=body, headers=admin)
    assert r.status_code == 400
    assert field in r.json()["detail"] and r.json()["error_type"] == "bad_request"


async def test_websocket_handshakes_are_refused_without_a_valid_key(
    make_gateway: GatewayFactory,
) -> None:
    gw = await make_gateway()
    await gw.key("alice", "alice")
    with TestClient(gw.app) as tc:
        with (
            pytest.raises(WebSocketDenialResponse) as denied,
            tc.websocket_connect(f"/{ECHO}/realtime?fal_jwt_token=forged"),
        ):
            pass
        assert denied.value.status_code == 401
        assert denied.value.json() == INVALID


def test_access_policy_by_path() -> None:
    assert access("GET", "/health").value == "public"
    assert access("PUT", "/rest/storage/upload/put/k/a.bin").value == "public"
    assert access("GET", "/files/k/a.bin").value == "optional"
    assert access("POST", "/cdn/files/upload").value == "own"
    assert access("PUT", "/files/k/a.bin/multipart/u/1").value == "own"
    assert access("POST", "/queue/a/b").value == "required"
    assert access("GET", "/rest/keys").value == "required"


def test_credentials_and_app_of() -> None:
    assert credentials({"authorization": "Key a:b"}, {}) == ("key", "a:b")
    assert credentials({"authorization": "bearer  t "}, {}) == ("bearer", "t")
    assert credentials({}, {"fal_jwt_token": "t"}) == ("bearer", "t")
    assert credentials({}, {}) is None
    assert app_of("/queue/acme/flux/requests/r1/status") == "acme/flux"
    assert app_of("/queue/acme/flux/dev") == "acme/flux"
    assert app_of("/acme/flux/realtime") == "acme/flux"
    assert app_of("/1234-test") == "1234/test"
    assert app_of("/single") is None


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("10.1.2.3", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback
