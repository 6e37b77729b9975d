"""Keys through a real ``openfal serve``, the ``openfal keys`` CLI (while it runs) and the
official ``fal-client``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import fal_client
import httpx
import pytest

from openfal.compat import restore, use_server
from tests.e2e.harness import Serve, wait_for

pytestmark = pytest.mark.e2e

ECHO = "openfal/echo"


def cli(s: Serve, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "openfal", *args, "--data-dir", str(s.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "250"},
    )


def create_key(s: Serve, *args: str) -> str:
    """``openfal keys create ...``; returns ``<id>:<secret>``."""
    done = cli(s, "keys", "create", *args)
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip()
    assert line.startswith("FAL_KEY=") and "cannot be shown again" in done.stderr
    return line.removeprefix("FAL_KEY=")


def key(secret: str) -> dict[str, str]:
    return {"authorization": f"Key {secret}"}


@pytest.fixture
def fal_urls() -> Iterator[Any]:
    """Point the official client at a server (each test passes its own key explicitly)."""
    previous: list[dict[str, str | None]] = []

    def point(s: Serve) -> None:
        previous.append(use_server(s.url))

    yield point
    for changed in reversed(previous):
        restore(changed)


def test_dev_mode_then_the_first_key_then_revocation(serve: Any) -> None:
    s: Serve = serve("echo")
    assert "no API keys yet: requests are allowed without a key (dev mode" in s.logs()
    assert "openfal keys create --scope ADMIN --data-dir" in s.logs()
    with s.client() as c:
        r = c.post(f"/{ECHO}", json={"message": "hi"}, headers={"authorization": "Key any"})
        assert r.json() == {"message": "hi"}

        alice = create_key(s, "--user", "alice", "--description", "laptop")
        # auth is on at once: no key, no entry...
        r = c.post(f"/{ECHO}", json={"message": "hi"})
        assert (r.status_code, r.json()["detail"]) == (401, "Invalid API key")
        # ...and the fresh key works on its very first request
        r = c.post(f"/{ECHO}", json={"message": "first"}, headers=key(alice))
        assert (r.status_code, r.json()) == (200, {"message": "first"})

        listed = cli(s, "keys", "list")
        assert listed.returncode == 0
        assert alice.split(":")[0] in listed.stdout and "laptop" in listed.stdout
        assert alice.split(":")[1] not in listed.stdout

        revoked = cli(s, "keys", "revoke", alice.split(":")[0])
        assert revoked.returncode == 0, revoked.stderr
        r = c.post(f"/{ECHO}", json={"message": "hi"}, headers=key(alice))
        assert (r.status_code, r.json()["detail"]) == (401, "Invalid API key")
        assert cli(s, "keys", "revoke", alice.split(":")[0]).returncode == 1


def test_users_are_isolated_and_admin_sees_all_with_the_official_client(
    serve: Any, fal_urls: Any
) -> None:
    s: Serve = serve("echo", "sleeper")
    fal_urls(s)
    alice = create_key(s, "--user", "alice")
    bob = create_key(s, "--user", "bob")
    admin = create_key(s, "--user", "root", "--scope", "ADMIN")
    as_alice = fal_client.SyncClient(key=alice)

    assert as_alice.run(ECHO, arguments={"message": "hi"}) == {"message": "hi"}
    url = as_alice.upload(b"alice's bytes", "text/plain")
    slow = as_alice.submit("test/sleeper", arguments={"seconds": 30})
    done = as_alice.submit(ECHO, arguments={"message": "done"})
    assert done.get() == {"message": "done"}

    with s.client() as c:
        for u in (slow.status_url, done.response_url, slow.status_url + "/stream"):
            r = c.get(u, headers=key(bob))
            assert r.status_code == 404 and r.json()["detail"].startswith("Request ")
        assert c.put(slow.cancel_url, headers=key(bob)).status_code == 404
        assert c.get(url, headers=key(bob)).status_code == 404
        assert c.get(url).status_code == 404  # no key: not alice either

        assert c.get(url, headers=key(alice)).content == b"alice's bytes"
        assert c.get(url, headers=key(admin)).content == b"alice's bytes"
        assert c.get(done.response_url, headers=key(admin)).json() == {"message": "done"}
        r = c.get(slow.status_url, headers=key(admin))
        assert r.status_code == 202
        assert c.put(slow.cancel_url, headers=key(admin)).status_code == 202
        wait_for(
            lambda: c.get(slow.status_url, headers=key(alice)).json()["status"] == "COMPLETED",
            60,
            what="the cancelled request to complete",
        )

    listed = cli(s, "requests", "list")
    assert listed.returncode == 0 and "alice" in listed.stdout
    shown = json.loads(cli(s, "requests", "show", done.request_id).stdout)
    assert shown["owner"] == "alice"


def test_keys_over_http_for_admins(serve: Any) -> None:
    s: Serve = serve()
    admin = create_key(s, "--user", "root", "--scope", "ADMIN")
    with httpx.Client(base_url=s.url, timeout=60) as c:
        r = c.post("/rest/keys", json={"user": "eve", "max_concurrent": 2}, headers=key(admin))
        assert r.status_code == 201, r.text
        eve = r.json()["key"]
        assert c.get("/rest/keys", headers=key(eve)).status_code == 403
        assert {k["user"] for k in c.get("/rest/keys", headers=key(admin)).json()} == {
            "root",
            "eve",
        }
    listed = cli(s, "keys", "list", "--user", "eve")
    assert r.json()["key_id"] in listed.stdout


def test_an_owned_upload_works_as_an_input_of_its_owners_request(serve: Any, fal_urls: Any) -> None:
    """Apps read input files straight from storage, so owned uploads work as inputs; what
    apps write has no owner (the URL is the capability)."""
    s: Serve = serve("images")
    fal_urls(s)
    alice = fal_client.SyncClient(key=create_key(s, "--user", "alice"))
    bob = create_key(s, "--user", "bob")
    url = alice.upload(b"input bytes", "application/octet-stream")
    out = alice.run("test/images/checksum", arguments={"file": url})
    assert out["size"] == len(b"input bytes")
    made = alice.run("test/images", arguments={})
    with s.client() as c:
        assert c.get(url, headers=key(bob)).status_code == 404
        assert c.get(made["image"]["url"], headers=key(bob)).status_code == 200
