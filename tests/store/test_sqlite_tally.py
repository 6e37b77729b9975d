"""SQLite's queue tally (store/sqlite/tally.py): kept exact by triggers through every
change, filled for a file from an older version, and the positions it gives agree with
counting the queue from its head."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from openfal.store import Priority, RequestStatus
from openfal.store.sqlite import RANK_SQL, SQLiteStore
from openfal.store.sqlite.tally import NEAR_TAIL

APP = "acme/flux"


@asynccontextmanager
async def _opened(path: str, **kwargs: Any) -> AsyncIterator[SQLiteStore]:
    store = SQLiteStore(path, **kwargs)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


def _counted(path: str) -> dict[tuple[str, int], int]:
    """The tally, and what counting the rows says, for every (app, priority)."""
    conn = sqlite3.connect(path)
    try:
        tally = {(a, p): n for a, p, n in conn.execute("SELECT * FROM queue_tally") if n}
        rows = conn.execute(
            "SELECT app_id, priority, COUNT(*) FROM requests WHERE status = 'IN_QUEUE'"
            " GROUP BY app_id, priority"
        )
        assert tally == {(a, p): n for a, p, n in rows}
        return tally
    finally:
        conn.close()


def _rank_by_counting(path: str, app_id: str, priority: int, seq: int) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(RANK_SQL, (app_id, priority, seq)).fetchone()[0])
    finally:
        conn.close()


async def test_the_tally_follows_every_change(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    async with _opened(path, max_attempts=2) as store:
        recs = [
            await store.enqueue(APP, "", b"{}", priority=p)
            for p in (Priority.NORMAL, Priority.LOW, Priority.NORMAL, Priority.HIGH)
        ]
        await store.enqueue("acme/other", "", b"{}")
        assert _counted(path) == {(APP, 0): 1, (APP, 1): 2, (APP, 2): 1, ("acme/other", 1): 1}
        for rec in recs:
            assert await store.queue_position(rec) == _rank_by_counting(
                path, APP, rec.priority, rec.seq
            )
        claimed = await store.claim([APP], "w1")  # the HIGH one
        assert claimed is not None and claimed.id == recs[3].id
        await store.cancel(recs[1].id)  # queued: completed at once
        _counted(path)
        await store.requeue(claimed.id, "w1", "runner died", "runner_disconnected")
        assert _counted(path)[(APP, 0)] == 1
        assert await store.queue_depth(APP) == 3
        assert await store.queue_position(recs[2]) == 2  # HIGH, then recs[0]
        await store.claim_many([APP], "w1", 5)
        assert await store.queue_depth(APP) == 0 and _counted(path) == {("acme/other", 1): 1}


async def test_positions_far_from_the_tail_are_counted_from_the_head(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    async with _opened(path) as store:
        recs = [await store.enqueue(APP, "", b"{}") for _ in range(NEAR_TAIL + 5)]
        for i in (0, 3, 4, 5, 6, len(recs) - 1):  # head side counted, tail side tallied
            assert await store.queue_position(recs[i]) == i
        assert await store.queue_depth(APP) == len(recs)


async def test_a_file_from_before_the_tally_gets_it_filled(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    async with _opened(path) as store:
        for _ in range(3):
            await store.enqueue(APP, "", b"{}")
    conn = sqlite3.connect(path)
    for name in ("queue_tally_insert", "queue_tally_delete", "queue_tally_update"):
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute("DROP TABLE queue_tally")
    conn.commit()
    conn.close()
    async with _opened(path) as again:
        assert _counted(path) == {(APP, 1): 3}
        assert await again.queue_depth(APP) == 3
        rec = await again.claim([APP], "w1")
        assert rec is not None and rec.status is RequestStatus.IN_PROGRESS
        assert await again.queue_depth(APP) == 2
