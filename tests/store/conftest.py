"""Fixtures for the store contract suite: one suite, every backend.

To run the suite against another backend, add its name to ``BACKENDS`` and a branch to
``build_store``. The redis backend runs against a real ``redis-server`` started once per
session (see ``redis_server.py``); each test gets its own key prefix. A missing
``redis-server`` FAILS the redis tests (install it with ``scripts/redis.sh install``).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from openfal.store import Store
from openfal.store import clock as store_clock
from openfal.store import requests as store_base

from .redis_server import MISSING, REDIS_SERVER, RedisServer, start_redis

BACKENDS = ["memory", "sqlite", "redis"]

StoreFactory = Callable[..., Awaitable[Store]]


def build_store(
    backend: str, tmp_path: Path, *, redis_url: str | None = None, **kwargs: Any
) -> Store:
    if backend == "memory":
        from openfal.store.memory import MemoryStore

        return MemoryStore(**kwargs)
    if backend == "sqlite":
        from openfal.store.sqlite import SQLiteStore

        return SQLiteStore(str(tmp_path / "db" / "store.sqlite3"), **kwargs)
    if backend == "redis":
        from openfal.store.redis import RedisStore

        if redis_url is None:
            raise ValueError("the redis backend needs redis_url (the redis_server fixture)")
        return RedisStore(redis_url, **kwargs)
    raise ValueError(f"unknown store backend {backend!r}")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real redis-server for the whole session (started on first use)."""
    if shutil.which(REDIS_SERVER) is None:
        pytest.fail(MISSING, pytrace=False)
    server = start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield server
    finally:
        server.stop()


def redis_prefix() -> str:
    """A key prefix no other test uses."""
    return f"openfal-test:{uuid.uuid4().hex[:12]}:"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make_store(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[StoreFactory]:
    """Build, open and (at teardown) close stores of the current backend.

    Stores of a shared backend (sqlite, redis) made in one test see the same data.
    """
    opened: list[Store] = []
    shared: dict[str, Any] = {}
    if backend == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        shared = {"redis_url": server.url, "prefix": redis_prefix()}

    async def make(**kwargs: Any) -> Store:
        store = build_store(backend, tmp_path, **{**shared, **kwargs})
        await store.open()
        opened.append(store)
        return store

    yield make
    for store in reversed(opened):
        await store.close()


@pytest.fixture
async def store(make_store: StoreFactory) -> Store:
    return await make_store()


class FakeClock:
    """Stands in for ``openfal.store.requests.now``; moves only when told to."""

    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(store_base, "now", fake)
    monkeypatch.setattr(store_clock, "now", fake)  # keys, limits and the outbox read it
    return fake


@pytest.fixture
async def redis_stores(redis_server: object) -> AsyncIterator[list[Store]]:
    """Two stores on one server and key prefix, as if in two processes."""
    from openfal.store.redis import RedisStore

    assert isinstance(redis_server, RedisServer)
    prefix = redis_prefix()
    stores: list[Store] = [RedisStore(redis_server.url, prefix=prefix) for _ in range(2)]
    for s in stores:
        await s.open()
    yield stores
    for s in stores:
        await s.close()


@pytest.fixture
async def redis_raw(redis_server: object) -> AsyncIterator[object]:
    """A plain client on the session's server, to look at what the stores wrote."""
    import redis.asyncio as aioredis

    assert isinstance(redis_server, RedisServer)
    client = aioredis.Redis.from_url(redis_server.url)
    yield client
    await client.aclose()
