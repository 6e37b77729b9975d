"""SQLite keeps the requests this process completed in memory (store/sqlite/done.py): the
reads that follow a completion (a status stream's last event, the result) cost no query,
until the record's retention may have run out or a purge here took it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from openfal.store.sqlite import SQLiteStore

from .conftest import FakeClock

APP = "acme/app"


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[list[SQLiteStore]]:
    stores = [SQLiteStore(str(tmp_path / "db.sqlite"), retention=60.0) for _ in range(2)]
    for s in stores:
        await s.open()
    yield stores
    for s in stores:
        await s.close()


def no_queries(store: SQLiteStore, monkeypatch: pytest.MonkeyPatch) -> None:
    async def refuse(fn: Any) -> Any:
        raise AssertionError("a query ran")

    monkeypatch.setattr(store, "_run", refuse)


async def test_a_request_completed_here_is_read_from_memory(
    pair: list[SQLiteStore], monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    a, b = pair
    rec = await a.enqueue(APP, "", b"{}")
    assert await a.claim([APP], "w") is not None
    done = await a.complete(rec.id, status_code=200, body=b'{"ok": 1}', worker_id="w")
    assert done is not None
    assert await b.get(rec.id) == done  # what the file holds, read by another process
    with monkeypatch.context() as m:
        no_queries(a, m)
        assert await a.get(rec.id) == done


async def test_not_once_its_retention_may_have_run_out(
    pair: list[SQLiteStore], monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    a, _ = pair
    rec = await a.enqueue(APP, "", b"{}")
    assert await a.claim([APP], "w") is not None
    assert await a.complete(rec.id, status_code=200, body=b"{}", worker_id="w") is not None
    clock.advance(61)
    with monkeypatch.context() as m:
        no_queries(a, m)
        with pytest.raises(AssertionError, match="a query ran"):
            await a.get(rec.id)
    assert await a.get(rec.id) is not None  # still in the file: not purged yet
    assert await a.purge_completed() == 1
    assert await a.get(rec.id) is None


async def test_a_request_completed_elsewhere_is_read_from_the_file(
    pair: list[SQLiteStore], monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    a, b = pair
    rec = await a.enqueue(APP, "", b"{}")
    assert await b.claim([APP], "w") is not None
    done = await b.complete(rec.id, status_code=200, body=b"{}", worker_id="w")
    with monkeypatch.context() as m:
        no_queries(a, m)
        with pytest.raises(AssertionError, match="a query ran"):
            await a.get(rec.id)
    assert await a.get(rec.id) == done
