"""SQLite runs statements inline on the loop, but never blocks it on another process's lock."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from openfal.store import RequestStatus
from openfal.store.sqlite import SQLiteStore


async def test_a_write_waits_for_a_lock_held_elsewhere_without_blocking_the_loop(
    tmp_path: Path,
) -> None:
    path = tmp_path / "db.sqlite"
    store = SQLiteStore(str(path))
    await store.open()
    try:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        enqueue = asyncio.create_task(store.enqueue("a/app", "", b"{}", request_id="r1"))
        ticks = 0
        while ticks < 20:  # the loop keeps running while the write waits
            await asyncio.sleep(0.005)
            ticks += 1
        assert not enqueue.done()
        other.execute("COMMIT")
        rec = await asyncio.wait_for(enqueue, 10)
        assert rec.status is RequestStatus.IN_QUEUE
        # and the next operations run inline again, on the same connection
        claimed = await store.claim(["a/app"], "w1")
        assert claimed is not None and claimed.id == "r1" and claimed.attempts == 1
        other.close()
    finally:
        await store.close()


async def test_a_batch_with_a_duplicate_commits_the_others(tmp_path: Path) -> None:
    store = SQLiteStore(str(tmp_path / "db.sqlite"))
    await store.open()
    try:
        results = await asyncio.gather(
            store.enqueue("a/app", "", b"{}", request_id="x"),
            store.enqueue("a/app", "", b"{}", request_id="x"),
            store.enqueue("a/app", "", b"{}", request_id="y"),
            return_exceptions=True,
        )
        assert [type(r).__name__ for r in results].count("ValueError") == 1
        assert await store.get("x") is not None and await store.get("y") is not None
        assert await store.queue_depth("a/app") == 2
        # each submit's position was read in the batch's transaction, after its insert
        stored = [r for r in results if not isinstance(r, BaseException)]
        assert [await store.queue_position(r) for r in stored] == [0, 1]
        assert [await store.queue_position(r) for r in stored] == [0, 1]  # counted now
    finally:
        await store.close()
