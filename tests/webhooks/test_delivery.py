"""One delivery try against a real HTTP receiver on 127.0.0.1, and the retry schedule."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from openfal.webhooks import (
    Attempt,
    RetryPolicy,
    SigningKey,
    UrlGuard,
    WebhookUrlRefused,
    build_payload,
    deliver_once,
    fetch_jwks,
    jwks,
    sign_headers,
    verify,
)

from .conftest import Receiver


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as c:
        yield c


@pytest.fixture
def key() -> SigningKey:
    return SigningKey.generate()


def signed_delivery(key: SigningKey) -> tuple[bytes, dict[str, str]]:
    body = build_payload("req-1", 200, b'{"images": [{"url": "https://cdn/x.png"}]}', None)
    return body, sign_headers(key, "req-1", "user-1", body)


# --- deliver_once ---------------------------------------------------------------------------


async def test_receiver_gets_exact_body_and_headers_and_verifies(
    receiver: Receiver, client: httpx.AsyncClient, key: SigningKey
) -> None:
    body, headers = signed_delivery(key)
    before = time.time()
    attempt = await deliver_once(client, receiver.url + "/hook?x=1", body, headers)

    assert attempt == Attempt(attempt.at, 200, None, attempt.duration)
    assert attempt.ok
    assert before <= attempt.at <= time.time()
    assert 0 <= attempt.duration < 15

    got = await asyncio.to_thread(receiver.next_request)
    assert (got.method, got.path, got.body) == ("POST", "/hook?x=1", body)
    for name, value in headers.items():
        assert got.headers[name.lower()] == value
    assert got.headers["content-type"] == "application/json"
    assert verify(got.headers, got.body, jwks([key]))


async def test_receiver_answering_500_is_a_failed_attempt(
    receiver: Receiver, client: httpx.AsyncClient, key: SigningKey
) -> None:
    receiver.status = 500
    attempt = await deliver_once(client, receiver.url, *signed_delivery(key))
    assert attempt.status_code == 500
    assert attempt.error is None
    assert not attempt.ok


async def test_redirect_is_not_followed(
    receiver: Receiver, client: httpx.AsyncClient, key: SigningKey
) -> None:
    receiver.status = 307
    receiver.response_headers = {"Location": "http://169.254.169.254/latest/meta-data"}
    attempt = await deliver_once(client, receiver.url, *signed_delivery(key))
    assert (attempt.status_code, attempt.ok) == (307, False)
    await asyncio.to_thread(receiver.next_request)
    assert receiver.requests.empty()


async def test_closed_port_gives_an_error(
    closed_port: int, client: httpx.AsyncClient, key: SigningKey
) -> None:
    attempt = await deliver_once(client, f"http://127.0.0.1:{closed_port}/", *signed_delivery(key))
    assert attempt.status_code is None
    assert attempt.error is not None
    assert attempt.error.startswith("connection failed")
    assert not attempt.ok


async def test_hanging_receiver_times_out(
    receiver: Receiver, client: httpx.AsyncClient, key: SigningKey
) -> None:
    receiver.hold = True
    attempt = await deliver_once(client, receiver.url, *signed_delivery(key), timeout=0.5)
    assert attempt.status_code is None
    assert attempt.error == "timeout after 0.5s"
    assert 0.5 <= attempt.duration < 5
    # The request did reach the receiver, which was still holding it.
    got = await asyncio.to_thread(receiver.next_request)
    assert got.method == "POST"


async def test_invalid_url_is_a_recorded_error(client: httpx.AsyncClient) -> None:
    attempt = await deliver_once(client, "ftp://example/", b"{}", {})
    assert attempt.status_code is None
    assert attempt.error


def test_attempt_as_dict() -> None:
    attempt = Attempt(at=1.5, status_code=None, error="timeout after 15s", duration=15.0)
    assert attempt.as_dict() == {
        "at": 1.5,
        "status_code": None,
        "error": "timeout after 15s",
        "duration": 15.0,
    }
    assert json.loads(json.dumps(attempt.as_dict())) == attempt.as_dict()


# --- deliver_once with a guard ----------------------------------------------------------------


def fake_dns(
    monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]
) -> list[tuple[str, Any]]:
    """Answer ``loop.getaddrinfo`` from ``answers``; returns the log of lookups made."""
    lookups: list[tuple[str, Any]] = []

    async def getaddrinfo(host: str, port: Any, **kwargs: Any) -> list[tuple[Any, ...]]:
        lookups.append((host, port))
        if host not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        infos = []
        for address in answers[host]:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            infos.append((family, socket.SOCK_STREAM, 6, "", (address, port)))
        return infos

    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", getaddrinfo)
    return lookups


async def test_guarded_delivery_connects_to_the_vetted_address(
    receiver: Receiver,
    client: httpx.AsyncClient,
    key: SigningKey,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # hooks.test exists only in this fake DNS: had httpx resolved it itself, it would fail.
    # The first address has no listener, so the second one is tried.
    lookups = fake_dns(monkeypatch, {"hooks.test": ["127.0.0.2", "127.0.0.1"]})
    port = receiver.url.rsplit(":", 1)[1]
    body, headers = signed_delivery(key)
    guard = UrlGuard(allow=["127.0.0.0/8"])
    attempt = await deliver_once(client, f"http://hooks.test:{port}/in", body, headers, guard=guard)
    assert attempt.ok, attempt
    assert lookups == [("hooks.test", int(port))]
    got = await asyncio.to_thread(receiver.next_request)
    assert got.headers["host"] == f"hooks.test:{port}"
    assert got.path == "/in"
    assert got.body == body
    assert verify(got.headers, got.body, jwks([key]))


async def test_guarded_delivery_refuses_private_address(
    receiver: Receiver, client: httpx.AsyncClient, key: SigningKey
) -> None:
    with pytest.raises(WebhookUrlRefused, match="loopback"):
        await deliver_once(client, receiver.url, *signed_delivery(key), guard=UrlGuard())
    assert receiver.requests.empty()  # refused before any connection


async def test_guarded_delivery_refuses_host_resolving_to_private_address(
    client: httpx.AsyncClient, key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_dns(monkeypatch, {"rebind.test": ["93.184.216.34", "10.0.0.7"]})
    with pytest.raises(WebhookUrlRefused, match=r"rebind\.test resolves to 10\.0\.0\.7"):
        await deliver_once(client, "http://rebind.test/", *signed_delivery(key), guard=UrlGuard())


async def test_guarded_delivery_unresolvable_host_is_a_failed_attempt(
    client: httpx.AsyncClient, key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_dns(monkeypatch, {})
    attempt = await deliver_once(
        client, "http://gone.test/", *signed_delivery(key), guard=UrlGuard()
    )
    assert attempt.status_code is None
    assert attempt.error is not None
    assert "cannot resolve gone.test" in attempt.error


# --- fetch_jwks -------------------------------------------------------------------------------


async def test_fetch_jwks_caches_and_refreshes(receiver: Receiver, key: SigningKey) -> None:
    receiver.get_body = jwks([key])
    url = receiver.url + "/.well-known/jwks.json"
    assert await fetch_jwks(url) == jwks([key])
    assert await fetch_jwks(url) == jwks([key])
    got = await asyncio.to_thread(receiver.next_request)
    assert (got.method, got.path) == ("GET", "/.well-known/jwks.json")
    assert receiver.requests.empty()  # the second call was served from the cache

    rotated = SigningKey.generate()
    receiver.get_body = jwks([rotated, key])
    async with httpx.AsyncClient() as client:
        assert await fetch_jwks(url, refresh=True, client=client) == jwks([rotated, key])
    assert await fetch_jwks(url) == jwks([rotated, key])


async def test_fetch_jwks_expires(receiver: Receiver, key: SigningKey) -> None:
    receiver.get_body = jwks([key])
    url = receiver.url + "/jwks"
    await fetch_jwks(url, ttl=0)
    await fetch_jwks(url, ttl=0)
    await asyncio.to_thread(receiver.next_request)
    await asyncio.to_thread(receiver.next_request)


async def test_fetch_jwks_rejects_non_jwks(receiver: Receiver) -> None:
    receiver.get_body = {"not": "a jwks"}
    with pytest.raises(ValueError, match="JWKS"):
        await fetch_jwks(receiver.url + "/jwks")


async def test_fetch_jwks_raises_on_http_error(receiver: Receiver) -> None:
    receiver.status = 404
    with pytest.raises(httpx.HTTPStatusError):
        await fetch_jwks(receiver.url + "/jwks")


# --- retry schedule ---------------------------------------------------------------------------


def test_default_schedule() -> None:
    policy = RetryPolicy()
    assert policy.delays() == [15, 30, 60, 120, 240, 480, 960, 1920, 3600]
    assert policy.total_delay == 7425
    # About two hours: the waits plus ten tries of at most 15 s each.
    assert 1.75 * 3600 <= policy.total_delay + 10 * 15 <= 2.25 * 3600


def test_gives_up_after_max_attempts() -> None:
    policy = RetryPolicy()
    tries = 1
    while policy.next_delay(tries) is not None:
        tries += 1
    assert tries == 10
    assert policy.next_delay(10) is None
    assert policy.next_delay(11) is None
    assert policy.next_delay(9) == 3600


def test_custom_policy() -> None:
    policy = RetryPolicy(max_attempts=4, first_delay=1, factor=3, max_delay=5)
    assert policy.delays() == [1, 3, 5]
    assert RetryPolicy(max_attempts=1).next_delay(1) is None
    assert RetryPolicy(max_attempts=1).delays() == []


def test_huge_attempt_numbers_do_not_overflow() -> None:
    policy = RetryPolicy(max_attempts=100_000, factor=10)
    assert policy.next_delay(99_999) == policy.max_delay


def test_jitter_stays_within_bounds() -> None:
    policy = RetryPolicy(jitter=0.2)
    for attempt in range(1, 10):
        base = RetryPolicy().next_delay(attempt)
        assert base is not None
        for _ in range(50):
            delay = policy.next_delay(attempt)
            assert delay is not None
            assert base * 0.8 <= delay <= min(base * 1.2, policy.max_delay)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_attempts": 0},
        {"first_delay": -1},
        {"max_delay": -1},
        {"factor": 0.5},
        {"jitter": 1.0},
        {"jitter": -0.1},
    ],
)
def test_invalid_policy(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)


def test_attempt_numbers_start_at_one() -> None:
    with pytest.raises(ValueError):
        RetryPolicy().next_delay(0)


def test_servers_retry_webhooks_with_jitter() -> None:
    from openfal.server.security import sender_config
    from openfal.server.settings import Settings

    policy = sender_config(Settings()).retry
    assert policy.jitter == 0.2
    waits = {policy.next_delay(1) for _ in range(50)}
    assert len(waits) > 1 and all(w is not None and 12 <= w <= 18 for w in waits)
