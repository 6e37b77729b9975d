"""Realtime tokens: minting, verification and ``POST /rest/tokens/`` in-process."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

import httpx
import jwt
import pytest

from openfal.gateway import AppRegistry, create_app, tokens
from openfal.gateway.tokens import InvalidToken, TokenNotForApp, mint_token, verify_token
from openfal.server.runtime import HandshakeLogFilter
from openfal.server.secrets import load_secrets
from openfal.server.settings import load_settings
from openfal.store import Store

SECRET = b"s" * 32


def test_a_token_allows_its_apps_by_alias_or_full_id() -> None:
    token = mint_token("alice", ["realtime", "other/full"], 120, secret=SECRET)
    claims = verify_token(token, "test/realtime", secret=SECRET)
    assert claims["sub"] == "alice" and claims["allowed_apps"] == ["realtime", "other/full"]
    assert claims["exp"] - claims["iat"] == 120
    assert verify_token(token, "other/full", secret=SECRET)["sub"] == "alice"
    assert verify_token(token, "workflows/me/realtime", secret=SECRET)


def test_an_anonymous_token_names_the_anonymous_owner() -> None:
    token = mint_token(None, ["x"], 10, secret=SECRET)
    assert verify_token(token, "a/x", secret=SECRET)["sub"] == "anonymous"


def test_a_token_for_another_app_is_refused_with_403() -> None:
    token = mint_token("alice", ["realtime"], 120, secret=SECRET)
    with pytest.raises(TokenNotForApp, match="does not allow app 'test/other'") as refused:
        verify_token(token, "test/other", secret=SECRET)
    assert refused.value.status_code == 403
    with pytest.raises(TokenNotForApp):
        verify_token(token, "test/full", secret=SECRET)


def test_expired_forged_and_malformed_tokens_are_refused_with_401() -> None:
    past = int(time.time()) - 60
    expired = jwt.encode(
        {"iss": "openfal", "sub": "a", "allowed_apps": ["x"], "iat": past - 60, "exp": past},
        SECRET,
        algorithm="HS256",
    )
    forged = mint_token("a", ["x"], 60, secret=b"f" * 32)
    unsigned = jwt.encode({"iss": "openfal", "sub": "a", "allowed_apps": ["x"]}, None, "none")
    for token, reason in (
        (expired, "Token expired"),
        (forged, "Signature verification failed"),
        ("not-a-jwt", "Invalid token"),
        (unsigned, "Invalid token"),
    ):
        with pytest.raises(InvalidToken, match=reason) as refused:
            verify_token(token, "a/x", secret=SECRET)
        assert refused.value.status_code == 401


def test_minting_checks_its_arguments() -> None:
    with pytest.raises(ValueError, match="allowed_apps"):
        mint_token("a", [], 60, secret=SECRET)
    with pytest.raises(ValueError, match="token_expiration"):
        mint_token("a", ["x"], 0, secret=SECRET)


async def test_the_secret_comes_from_the_environment_or_a_file(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("OPENFAL_TOKEN_SECRET", raising=False)
    store = Store.from_url("memory://")

    async def token_secret() -> bytes:
        settings = load_settings({"data_dir": tmp_path})
        return (await load_secrets(settings, store, shared=False)).token

    first = await token_secret()
    assert (tmp_path / "token.key").stat().st_mode & 0o777 == 0o600
    assert await token_secret() == first  # kept across restarts
    monkeypatch.setenv("OPENFAL_TOKEN_SECRET", "e" * 40)
    assert await token_secret() == b"e" * 40
    with pytest.raises(ValueError, match="at least 32 bytes"):
        tokens.configure("short")


@pytest.fixture
async def gateway() -> AsyncIterator[httpx.AsyncClient]:
    store = Store.from_url("memory://")
    await store.open()
    app = create_app(store, AppRegistry(store))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client
    await store.close()


async def test_rest_tokens_answers_a_bare_json_string(gateway: httpx.AsyncClient) -> None:
    body = {"allowed_apps": ["realtime"], "token_expiration": 60}
    for path in ("/rest/tokens/", "/rest/tokens"):
        response = await gateway.post(path, json=body)
        assert response.status_code == 200
        token = response.json()
        assert isinstance(token, str)
        claims = verify_token(token, "test/realtime")
        assert claims["exp"] - claims["iat"] == 60


async def test_rest_tokens_names_the_bad_field(gateway: httpx.AsyncClient) -> None:
    no_apps = await gateway.post("/rest/tokens/", json={"allowed_apps": []})
    too_long = await gateway.post(
        "/rest/tokens/", json={"allowed_apps": ["x"], "token_expiration": 10**9}
    )
    not_object = await gateway.post("/rest/tokens/", json=["x"])
    assert no_apps.status_code == 422
    assert no_apps.json()["detail"][0]["loc"] == ["body", "allowed_apps"]
    assert too_long.status_code == 422
    assert too_long.json()["detail"][0]["loc"] == ["body", "token_expiration"]
    assert not_object.status_code == 400


def test_logged_websocket_urls_hide_the_token_and_refusals_are_not_errors() -> None:
    log_filter = HandshakeLogFilter()
    url = "/a/b/realtime?fal_jwt_token=eyJ.abc.def&max_buffering=2"
    line = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        "",
        0,
        '%s - "WebSocket %s" %d',
        ("1.2.3.4:5", url, 403),
        None,
    )
    assert log_filter.filter(line)
    assert line.getMessage() == (
        '1.2.3.4:5 - "WebSocket /a/b/realtime?fal_jwt_token=…&max_buffering=2" 403'
    )
    alarm = logging.LogRecord(
        "uvicorn.error",
        logging.ERROR,
        "",
        0,
        "ASGI callable returned without completing handshake.",
        None,
        None,
    )
    assert not log_filter.filter(alarm)
