"""Webhooks through a real ``openfal serve``: signed with the key its JWKS publishes, one POST
per request, retried until the receiver is up (across a kill -9 and restart), ERROR shapes."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from typing import Any

import fal_client
import httpx
import pytest

from openfal.webhooks import fetch_jwks, verify
from tests.e2e.harness import Serve, wait_for

from .conftest import Receiver
from .test_sender import receiver_on

pytestmark = pytest.mark.e2e

ECHO = "openfal/echo"
# loopback receivers must be allow-listed; retries start after 0.2 s instead of 15 s
ARGS = ["--webhook-allow", "127.0.0.1", "--webhook-retry-base", "0.2"]


def show(s: Serve, request_id: str) -> dict[str, Any]:
    """``openfal requests show ID``: the record, with the webhook and each try."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "openfal",
            "requests",
            "show",
            request_id,
            "--data-dir",
            str(s.data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    shown: dict[str, Any] = json.loads(done.stdout)
    return shown


def attempts(s: Serve, request_id: str) -> list[dict[str, Any]]:
    return list(show(s, request_id).get("webhook", {}).get("attempts", []))



def test_one_signed_post_per_request_that_verify_accepts(
    serve: Any, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    s: Serve = serve("echo", args=ARGS)
    alice = s.create_key("alice")
    headers = {"authorization": f"Key {alice}"}
    monkeypatch.setattr(fal_client.client, "QUEUE_URL_FORMAT", f"{s.url}/queue/")
    with s.client() as c:
        ids = []
        for i in range(2):
            r = c.post(
                f"/queue/{ECHO}",
                params={"fal_webhook": f"{receiver.url}/hook/{i}"},
                json={"message": f"m{i}"},
                headers=headers,
            )
            assert r.status_code == 200, r.text
            ids.append(r.json()["request_id"])
        # webhook_url in the body (the endpoint does not declare it)
        r = c.post(
            f"/queue/{ECHO}",
            json={"message": "m2", "webhook_url": f"{receiver.url}/hook/2"},
            headers=headers,
        )
        ids.append(r.json()["request_id"])
        # and the official client's webhook_url=
        handle = fal_client.SyncClient(key=alice).submit(
            ECHO, arguments={"message": "m3"}, webhook_url=f"{receiver.url}/hook/3"
        )
        ids.append(handle.request_id)
        jwks = asyncio.run(fetch_jwks(f"{s.url}/.well-known/jwks.json"))
        assert c.get("/rest/.well-known/jwks.json").json() == jwks
    got = {}
    for _ in ids:
        post = receiver.next_request(timeout=60)
        got[post.headers["x-fal-webhook-request-id"]] = post
    assert sorted(got) == sorted(ids)
    for n, request_id in enumerate(ids):
        post = got[request_id]
        assert post.path == f"/hook/{n}"
        assert json.loads(post.body) == {
            "request_id": request_id,
            "gateway_request_id": request_id,
            "status": "OK",
            "payload": {"message": f"m{n}"},
        }
        assert post.headers["x-fal-webhook-user-id"] == "alice"
        assert verify(post.headers, post.body, jwks)
        altered = post.body.replace(f"m{n}".encode(), f"n{n}".encode())  # one byte
        assert len(altered) == len(post.body) and not verify(post.headers, altered, jwks)
    # exactly one POST each: the store recorded one try per webhook, and nothing else came
    for request_id in ids:
        wh = show(s, request_id)["webhook"]
        assert wh["state"] == "DELIVERED" and len(wh["attempts"]) == 1
        assert wh["attempts"][0]["status_code"] == 200
    assert show(s, ids[2])["input"] == {"message": "m2"}  # webhook_url was taken out
    assert receiver.requests.empty()


def test_receiver_down_then_delivered_on_retry_across_a_kill_and_restart(
    serve: Any, closed_port: int
) -> None:
    s: Serve = serve("echo", args=ARGS)
    with s.client() as c:
        r = c.post(
            f"/queue/{ECHO}",
            params={"fal_webhook": f"http://127.0.0.1:{closed_port}/late"},
            json={"message": "hi"},
        )
        request_id = r.json()["request_id"]
    # nothing listens yet: tries fail and are recorded
    wait_for(lambda: len(attempts(s, request_id)) >= 2, 60, 0.3, "two failed tries")
    s.kill9()
    failed = attempts(s, request_id)
    assert all(a["status_code"] is None and a["error"] for a in failed)
    with receiver_on(closed_port) as up:
        s.start()  # same data dir and port
        post = up.next_request(timeout=60)
        wh = wait_for(
            lambda: (w := show(s, request_id)["webhook"])["state"] == "DELIVERED" and w,
            60,
            0.3,
            "the webhook to be delivered",
        )
    assert post.path == "/late"
    assert json.loads(post.body)["payload"] == {"message": "hi"}
    assert verify(post.headers, post.body, httpx.get(f"{s.url}/.well-known/jwks.json").json())
    assert len(wh["attempts"]) >= len(failed) + 1
    assert wh["attempts"][-1]["status_code"] == 200
    assert up.requests.empty()


def test_an_error_webhook_carries_the_error(serve: Any, receiver: Receiver) -> None:
    s: Serve = serve("errors", args=ARGS)
    with s.client() as c:
        r = c.post(
            "/queue/openfal/errors/app-error",
            params={"fal_webhook": receiver.url},
            json={"prompt": "x"},
        )
        request_id = r.json()["request_id"]
    post = receiver.next_request(timeout=60)
    assert json.loads(post.body) == {
        "request_id": request_id,
        "gateway_request_id": request_id,
        "status": "ERROR",
        "error": "Invalid status code: 400",
        "payload": {"detail": "app refused the request"},
    }
    assert post.headers["x-fal-webhook-user-id"] == "anonymous"  # dev mode: no key


def test_private_webhook_urls_are_refused_at_submit_unless_allow_listed(serve: Any) -> None:
    s: Serve = serve("echo")  # no --webhook-allow
    with s.client() as c:
        r = c.post(
            f"/queue/{ECHO}", params={"fal_webhook": "http://127.0.0.1:9/x"}, json={"message": "x"}
        )
    assert r.status_code == 400
    assert "is loopback" in r.json()["detail"] and r.json()["error_type"] == "bad_request"
