"""Every error status the gateway answers, with the body the README's error table documents.

Platform errors carry ``error_type`` in the body and ``X-Fal-Error-Type``; every answer
carries ``x-fal-request-id``. "Not ready" is never 408/409 (the clients retry those).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx
import pytest

from openfal.gateway import GatewaySettings
from openfal.gateway.auth import AuthSettings
from openfal.store import requests as store_base

from .conftest import ECHO, Gateway, GatewayFactory


def check(
    r: httpx.Response, status: int, body: dict[str, Any], error_type: str | None = None
) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.json() == body
    assert r.headers["x-fal-request-id"]
    assert r.headers.get("x-fal-error-type") == error_type


async def test_400_malformed_json_and_bad_requests(gw: Gateway) -> None:
    r = await gw.client.post(
        f"/queue/{ECHO}", content=b'{"message": ', headers={"content-type": "application/json"}
    )
    assert r.json()["detail"].startswith("Malformed JSON body: ")
    check(r, 400, {"detail": r.json()["detail"], "error_type": "bad_request"}, "bad_request")
    r = await gw.client.post(
        f"/queue/{ECHO}", json={"message": "hi"}, headers={"x-fal-queue-priority": "urgent"}
    )
    check(
        r,
        400,
        {
            "detail": "Invalid X-Fal-Queue-Priority header 'urgent': use 'normal' or 'low'",
            "error_type": "bad_request",
        },
        "bad_request",
    )


async def test_400_not_408_or_409_while_a_result_is_not_ready(gw: Gateway) -> None:
    sub = await gw.submit({})
    r = await gw.client.get(sub["response_url"])
    check(
        r,
        400,
        {"detail": "Request is still in progress", "error_type": "bad_request"},
        "bad_request",
    )
    await gw.finish(sub["request_id"])
    r = await gw.client.put(sub["cancel_url"])
    assert (r.status_code, r.json()) == (400, {"status": "ALREADY_COMPLETED"})


async def test_401_invalid_api_key(gw: Gateway) -> None:
    await gw.key("alice", "alice")
    r = await gw.client.post(f"/queue/{ECHO}", json={}, headers={"authorization": "Key x:y"})
    check(r, 401, {"detail": "Invalid API key", "error_type": "unauthorized"}, "unauthorized")


async def test_404_unknown_app_request_and_path(gw: Gateway) -> None:
    r = await gw.client.post("/queue/nobody/nothing", json={})
    check(r, 404, {"detail": "Application 'nobody/nothing' not found"})
    rid = "00000000-0000-4000-8000-000000000000"
    r = await gw.client.get(f"/queue/{ECHO}/requests/{rid}/status")
    check(r, 404, {"detail": f"Request {rid} not found"})
    assert r.headers["x-fal-request-id"] == rid
    r = await gw.client.post(f"/queue/{ECHO}/no/such/path", json={})
    check(r, 404, {"detail": "Path /no/such/path not found"})


async def test_413_body_too_large(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(settings=GatewaySettings(max_body_size=100))
    r = await gw.client.post(f"/queue/{ECHO}", json={"message": "x" * 200})
    check(
        r,
        413,
        {
            "detail": "Request body is larger than the limit of 100 bytes",
            "error_type": "payload_too_large",
        },
        "payload_too_large",
    )


async def test_422_validation_lists_detail_and_errors(gw: Gateway) -> None:
    r = await gw.client.post(f"/queue/{ECHO}", json={"message": 5, "repeat": 0})
    assert r.status_code == 422
    body = r.json()
    assert body == {
        "detail": [
            {
                "loc": ["body", "message"],
                "msg": "Input should be a valid string",
                "type": "string_type",
            },
            {
                "loc": ["body", "repeat"],
                "msg": "Input should be greater than or equal to 1",
                "type": "greater_than_equal",
            },
        ],
        "errors": [
            {"field": "message", "message": "Input should be a valid string"},
            {"field": "repeat", "message": "Input should be greater than or equal to 1"},
        ],
    }
    assert r.headers["x-fal-request-id"] and "x-fal-error-type" not in r.headers


async def test_429_rate_limited(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(auth=AuthSettings(rate_limit=1, rate_window=600))
    await gw.submit({})
    r = await gw.client.post(f"/queue/{ECHO}", json={"message": "hi"})
    check(
        r,
        429,
        {"detail": "Rate limit exceeded", "error_type": "rate_limited", "retry_after": 600},
        "rate_limited",
    )
    assert r.headers["retry-after"] == "600"


async def test_500_hides_the_traceback_in_the_log(
    gw: Gateway, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    sub = await gw.submit({})

    async def broken(request_id: str, **kwargs: object) -> None:
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(gw.store, "get", broken)
    with caplog.at_level(logging.ERROR, logger="openfal.gateway"):
        r = await gw.client.get(sub["status_url"])
    request_id = r.headers["x-fal-request-id"]
    check(r, 500, {"detail": "Internal server error", "request_id": request_id}, "internal_error")
    assert "hunter2" not in r.text and "Traceback" not in r.text
    logged = "\n".join(rec.getMessage() + str(rec.exc_info) for rec in caplog.records)
    assert "hunter2" in logged and request_id in logged


async def test_503_and_504_carry_protocol_error_types(
    make_gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    gw = await make_gateway(settings=GatewaySettings(run_timeout=0.5))
    # 503: what the worker answers when no runner of the app can start
    sub = await gw.submit({})
    await gw.store.fail(
        sub["request_id"],
        503,
        "App openfal/echo failed to start",
        "runner_scheduling_failure",
        headers={"x-fal-error-type": "runner_scheduling_failure"},
    )
    r = await gw.client.get(sub["response_url"])
    check(
        r,
        503,
        {"detail": "App openfal/echo failed to start", "error_type": "runner_scheduling_failure"},
        "runner_scheduling_failure",
    )
    # 504: a direct run that does not finish within the gateway's run timeout
    r = await gw.client.post(f"/{ECHO}", json={"message": "hi"})
    check(
        r,
        504,
        {"detail": "Request did not finish within 0.5s", "error_type": "request_timeout"},
        "request_timeout",
    )
    # 504 (user timeout): not started before X-Fal-Request-Timeout
    late = await gw.submit({"x-fal-request-timeout": "2"})
    monkeypatch.setattr(store_base, "now", lambda: time.time() + 3)  # 3 s later
    assert await gw.store.claim([ECHO], "w") is None  # expired, so completed instead
    r = await gw.client.get(late["response_url"])
    check(
        r,
        504,
        {
            "detail": "Request was not started before its start timeout",
            "error_type": "request_timeout",
        },
        "request_timeout",
    )
    assert r.headers["x-fal-request-timeout-type"] == "user"
