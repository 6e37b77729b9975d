"""Shared helpers for runner tests: fixture apps, an in-process client, waiting on conditions."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from openfal.runner import build_app
from openfal.sdk import App, load_app

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "apps"
EVENTS = {"x-openfal-events": "ndjson"}


def fixture_app(name: str) -> type[App]:
    """The App class of tests/fixtures/apps/<name>.py."""
    return load_app(str(FIXTURES / f"{name}.py"))


@asynccontextmanager
async def serving(cls: type[App]) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process runner for `cls` (lifespan included) and a client talking to it."""
    app = build_app(cls)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://runner") as client:
            yield client


def events(response: httpx.Response) -> list[dict[str, Any]]:
    """The NDJSON events of an event-mode response."""
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in response.text.splitlines()]


def log_messages(stream: list[dict[str, Any]]) -> list[str]:
    return [event["message"] for event in stream if event["type"] == "log"]


async def wait_until(
    condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition"
) -> None:
    """Poll an async-or-sync `condition` until it is truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def in_flight(client: httpx.AsyncClient) -> int:
    count: int = (await client.get("/health")).json()["in_flight"]
    return count
