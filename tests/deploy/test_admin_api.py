"""The admin API in process: validation, ADMIN-only access, secrets never answered."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator

import httpx
import pytest
from cryptography.fernet import Fernet

from openfal.deploy.secrets import SecretBox
from openfal.gateway import create_app
from openfal.gateway.auth import AuthSettings
from openfal.store import KeyScope, Store

SOURCE = b"""
import openfal

class Figlet(openfal.App, keep_alive=5):
    requirements = ["pyfiglet==1.0.4"]
"""


def body(code: bytes = SOURCE, /, **changes: object) -> dict[str, object]:
    return {
        "entry": "app.py::Figlet",
        "archive": "file",
        "source": base64.b64encode(code).decode(),
        **changes,
    }


@pytest.fixture
async def api() -> AsyncIterator[tuple[httpx.AsyncClient, Store]]:
    store = Store.from_url("memory://")
    await store.open()
    app = create_app(store)
    app.state.auth = AuthSettings()
    app.state.secret_box = SecretBox(Fernet.generate_key())
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client, store
    await store.close()


async def test_a_deploy_stores_a_revision_named_after_the_app(api) -> None:
    client, store = api
    r = await client.post("/rest/apps/deploy", json=body())
    assert r.status_code == 201, r.text
    rev = r.json()
    assert rev["app_id"] == "local/figlet" and rev["state"] == "BUILDING"
    assert rev["requirements"] == ["pyfiglet==1.0.4"] and len(rev["env_key"]) == 16
    assert rev["urls"]["queue"] == "http://testserver/queue/local/figlet"
    r = await client.post("/rest/apps/deploy", json=body(app_name="acme/banner"))
    assert r.json()["app_id"] == "acme/banner"
    listed = {a["app_id"]: a for a in (await client.get("/rest/apps")).json()}
    assert listed["acme/banner"]["revision"] == r.json()["revision"]
    one = (await client.get("/rest/apps/acme/banner")).json()
    assert [x["revision"] for x in one["revisions"]] == [r.json()["revision"]]
    assert (await store.revision_source(r.json()["revision"])) == SOURCE


@pytest.mark.parametrize(
    ("changes", "detail"),
    [
        ({"entry": "app.py"}, "entry must be"),
        ({"entry": "../app.py::Figlet"}, "relative path"),
        ({"strategy": "blue-green"}, "strategy must be rolling or recreate"),
        ({"source": "%%%"}, "source must be base64"),
        ({"source": ""}, "source must hold"),
        ({"entry": "app.py::Other"}, "no class Other"),
        ({"source": base64.b64encode(b"class (").decode()}, "does not parse"),
        ({"archive": "zip"}, "archive must be"),
        ({"app_name": "a/b/c"}, "must be 'alias' or 'owner/alias'"),
        (
            {"source": base64.b64encode(b"class Figlet:\n    requirements = REQS\n").decode()},
            "requirements must be a literal",
        ),
    ],
)
async def test_bad_deploys_are_400_naming_the_problem(api, changes, detail) -> None:
    client, store = api
    r = await client.post("/rest/apps/deploy", json=body(**changes))
    assert r.status_code == 400, r.text
    assert detail in r.json()["detail"]
    assert await store.list_deployments() == []


async def test_scaling_is_checked_and_merged(api) -> None:
    client, _ = api
    await client.post("/rest/apps/deploy", json=body(app_name="acme/x"))
    url = "/rest/apps/acme/x/scaling"
    for bad, detail in [
        ({"min_replicas": 1}, "unknown scaling setting"),
        ({"min_concurrency": -1}, "at least 0"),
        ({"max_concurrency": 1.5}, "must be a int"),
        ({"keep_alive": True}, "must be a float"),
        ({"min_concurrency": 3, "max_concurrency": 2}, "above max_concurrency"),
    ]:
        r = await client.patch(url, json=bad)
        assert r.status_code == 400 and detail in r.json()["detail"], (bad, r.text)
    r = await client.patch(url, json={"min_concurrency": 1, "keep_alive": 30})
    assert r.json()["scaling"] == {"min_concurrency": 1, "keep_alive": 30.0}
    r = await client.patch(url, json={"keep_alive": None})
    assert r.json()["scaling"] == {"min_concurrency": 1}
    assert (await client.patch("/rest/apps/acme/nope/scaling", json={})).status_code == 404
    r = await client.put("/rest/apps/acme/x/revision", json={"revision": "nope"})
    assert r.status_code == 404
    assert (await client.delete("/rest/apps/acme/nope")).status_code == 404


async def test_secrets_are_write_only(api) -> None:
    client, store = api
    value = "hunter2-very-secret"
    r = await client.put("/rest/secrets/HF_TOKEN", json={"value": value})
    assert r.status_code == 200 and value not in r.text
    listed = (await client.get("/rest/secrets")).json()
    assert [s["name"] for s in listed] == ["HF_TOKEN"] and value not in str(listed)
    stored = (await store.list_secrets())[0].ciphertext
    assert value not in stored
    for name, detail in [
        ("9LIVES", "letters, digits"),
        ("FAL_KEY", "reserved"),
        ("A-B", "letters"),
    ]:
        r = await client.put(f"/rest/secrets/{name}", json={"value": "x"})
        assert r.status_code == 400 and detail in r.json()["detail"], r.text
    r = await client.put("/rest/secrets/EMPTY", json={"value": ""})
    assert r.status_code == 400
    assert (await client.delete("/rest/secrets/HF_TOKEN")).status_code == 200
    assert (await client.delete("/rest/secrets/HF_TOKEN")).status_code == 404


async def test_only_admin_keys_manage_apps_once_keys_exist(api) -> None:
    client, store = api
    admin_key, admin_secret = await store.create_key("root", KeyScope.ADMIN)
    user_key, user_secret = await store.create_key("bob", KeyScope.API)
    admin = {"authorization": f"Key {admin_key.id}:{admin_secret}"}
    user = {"authorization": f"Key {user_key.id}:{user_secret}"}
    calls = [
        ("POST", "/rest/apps/deploy", body()),
        ("PATCH", "/rest/apps/local/figlet/scaling", {"min_concurrency": 1}),
        ("PUT", "/rest/secrets/TOKEN", {"value": "abcdef"}),
        ("GET", "/rest/secrets", None),
        ("GET", "/rest/apps/local/figlet", None),
        ("DELETE", "/rest/apps/local/figlet", None),
    ]
    for method, path, payload in calls:
        r = await client.request(method, path, json=payload, headers=user)
        assert r.status_code == 403, (path, r.text)
        assert (await client.request(method, path, json=payload)).status_code == 401
    for method, path, payload in calls:
        r = await client.request(method, path, json=payload, headers=admin)
        assert r.status_code < 300, (path, r.text)


async def test_without_a_secrets_key_secrets_are_503(api) -> None:
    client, _ = api
    client._transport.app.state.secret_box = None  # type: ignore[attr-defined]
    r = await client.put("/rest/secrets/TOKEN", json={"value": "abcdef"})
    assert r.status_code == 503 and "OPENFAL_SECRETS_KEY" in r.json()["detail"]
