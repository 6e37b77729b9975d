"""The page size of the SQLite store's file: 2 KiB for a new file (a commit writes every page it
changed to the WAL whole, so smaller pages are fewer bytes per request), and a file made with
another page size keeps it and works as before."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from openfal.store import RequestStatus
from openfal.store.sqlite import SQLiteStore
from openfal.store.sqlite.schema import PAGE_SIZE

APP = "acme/app"


def page_size(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA page_size").fetchone()[0])
    finally:
        conn.close()


async def round_trip(store: SQLiteStore, body: bytes) -> None:
    rec = await store.enqueue(APP, "", body)
    claimed = await store.claim([APP], "w")
    assert claimed is not None and claimed.id == rec.id
    await store.complete(rec.id, status_code=200, body=body, worker_id="w")
    done = await store.get(rec.id)
    assert done is not None and done.status is RequestStatus.COMPLETED
    assert (done.input, done.result) == (body, body)


async def test_a_new_file_gets_the_small_page(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    store = SQLiteStore(str(path))
    await store.open()
    try:
        assert PAGE_SIZE == 2048
        assert page_size(path) == PAGE_SIZE
        # a row far larger than a page spills into overflow pages and reads back whole
        await round_trip(store, b'{"blob": "' + b"x" * 1_000_000 + b'"}')
        await round_trip(store, b'{"message": "hello"}')
    finally:
        await store.close()


async def test_a_file_made_with_another_page_size_keeps_it(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    old = sqlite3.connect(path, isolation_level=None)
    old.execute("PRAGMA page_size = 4096")
    old.execute("PRAGMA journal_mode = WAL")
    old.execute("CREATE TABLE keep (x INTEGER)")  # the file exists with its page size
    old.close()
    store = SQLiteStore(str(path))
    await store.open()
    try:
        await round_trip(store, b'{"message": "hello"}')
    finally:
        await store.close()
    assert page_size(path) == 4096
    reopened = SQLiteStore(str(path))
    await reopened.open()
    try:
        assert len(await reopened.list_requests(limit=10)) == 1
    finally:
        await reopened.close()
