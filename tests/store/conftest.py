"""Fixtures for the store contract suite: one suite, every backend.

To run the suite against another backend, add its name to ``BACKENDS`` and a branch to
``build_store`` (skip there when the backend is not available, e.g. no server).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from openfal.store import Store
from openfal.store import base as store_base

BACKENDS = ["memory", "sqlite"]

StoreFactory = Callable[..., Awaitable[Store]]


def build_store(backend: str, tmp_path: Path, **kwargs: Any) -> Store:
    if backend == "memory":
        from openfal.store.memory import MemoryStore

        return MemoryStore(**kwargs)
    if backend == "sqlite":
        from openfal.store.sqlite import SQLiteStore

        return SQLiteStore(str(tmp_path / "db" / "store.sqlite3"), **kwargs)
    raise ValueError(f"unknown store backend {backend!r}")


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def make_store(backend: str, tmp_path: Path) -> AsyncIterator[StoreFactory]:
    """Build, open and (at teardown) close stores of the current backend.

    Stores of a shared backend (sqlite, redis) made in one test see the same data.
    """
    opened: list[Store] = []

    async def make(**kwargs: Any) -> Store:
        store = build_store(backend, tmp_path, **kwargs)
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
    """Stands in for ``openfal.store.base.now``; moves only when told to."""

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
    return fake
