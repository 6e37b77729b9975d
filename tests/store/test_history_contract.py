"""Request history (``Store.history``) on every backend: filters, order, keyset pages."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

from openfal.store import RequestStatus, Store
from openfal.store.history import HistoryQuery
from openfal.store.sqlite.history import history_sql

from .conftest import FakeClock, StoreFactory


async def _fill(store: Store, clock: FakeClock) -> list[str]:
    """Five requests; ids[2] and ids[3] share created_at, so seq breaks the tie."""
    ids = []
    for i, (app, owner) in enumerate(
        [("a", "alice"), ("b", "bob"), ("a", "bob"), ("a", "alice"), ("b", "alice")]
    ):
        if i != 3:
            clock.advance(10)
        ids.append((await store.enqueue(app, "", b"{}", owner=owner)).id)
    claimed = await store.claim(["a"], "w1")
    assert claimed is not None and claimed.id == ids[0]
    return ids


async def _all_pages(store: Store, query: HistoryQuery) -> list[list[str]]:
    pages: list[list[str]] = []
    page = await store.history(query)
    pages.append([r.id for r in page.items])
    while page.next is not None:
        page = await store.history(HistoryQuery(**{**query.__dict__, "before": page.next}))
        pages.append([r.id for r in page.items])
    return pages


async def test_history_filters(store: Store, clock: FakeClock) -> None:
    ids = await _fill(store, clock)

    async def listed(**kwargs: object) -> list[str]:
        return [r.id for r in (await store.history(HistoryQuery(**kwargs))).items]  # type: ignore[arg-type]

    assert await listed() == ids[::-1]
    assert await listed(app_id="a") == [ids[3], ids[2], ids[0]]
    assert await listed(owner="alice") == [ids[4], ids[3], ids[0]]
    assert await listed(owner="bob", app_id="a") == [ids[2]]
    assert await listed(status=RequestStatus.IN_PROGRESS) == [ids[0]]
    assert await listed(status=RequestStatus.IN_QUEUE, owner="alice") == [ids[4], ids[3]]
    assert await listed(app_id="zzz") == []
    created = [(await store.get(i)).created_at for i in ids]  # type: ignore[union-attr]
    assert created[2] == created[3]
    assert await listed(since=created[2]) == [ids[4], ids[3], ids[2]]
    assert await listed(until=created[2]) == [ids[1], ids[0]]
    assert await listed(since=created[1], until=created[4]) == [ids[3], ids[2], ids[1]]
    assert await listed(since=created[1], until=created[4], owner="alice") == [ids[3]]


async def test_history_pages_walk_every_request_once(store: Store, clock: FakeClock) -> None:
    ids = await _fill(store, clock)
    assert await _all_pages(store, HistoryQuery(limit=2)) == [
        [ids[4], ids[3]],
        [ids[2], ids[1]],
        [ids[0]],
    ]
    # the cursor falls between two requests created at the same instant
    assert await _all_pages(store, HistoryQuery(limit=3)) == [[ids[4], ids[3], ids[2]], ids[1::-1]]
    assert await _all_pages(store, HistoryQuery(limit=1, app_id="a")) == [
        [ids[3]],
        [ids[2]],
        [ids[0]],
    ]
    assert await _all_pages(store, HistoryQuery(limit=5)) == [ids[::-1]]  # exactly one page
    assert (await store.history(HistoryQuery(limit=0))).items == []


async def test_history_pages_under_many_ties_and_filters(store: Store, clock: FakeClock) -> None:
    rng = random.Random(7)
    made: list[tuple[str, str, str]] = []
    for _ in range(150):
        if rng.random() < 0.5:
            clock.advance(rng.choice([0.001, 1.0]))
        app, owner = rng.choice(["x", "y"]), rng.choice(["u1", "u2", "u3"])
        rec = await store.enqueue(app, "", b"{}", owner=owner)
        made.append((rec.id, app, owner))
    newest_first = made[::-1]
    for query, expect in [
        (HistoryQuery(limit=7), [m[0] for m in newest_first]),
        (HistoryQuery(limit=9, app_id="x"), [m[0] for m in newest_first if m[1] == "x"]),
        (HistoryQuery(limit=4, owner="u2"), [m[0] for m in newest_first if m[2] == "u2"]),
        (
            HistoryQuery(limit=3, owner="u1", app_id="y"),
            [m[0] for m in newest_first if m[2] == "u1" and m[1] == "y"],
        ),
    ]:
        pages = await _all_pages(store, query)
        assert all(len(p) == query.limit for p in pages[:-1])
        assert [i for p in pages for i in p] == expect


async def test_history_survives_completion_and_requeue(store: Store, clock: FakeClock) -> None:
    ids = await _fill(store, clock)
    await store.complete(ids[0], status_code=200, body=b'{"ok": true}')
    done = await store.history(HistoryQuery(status=RequestStatus.COMPLETED))
    assert [r.id for r in done.items] == [ids[0]]
    assert done.items[0].result == b'{"ok": true}'
    assert [r.id for r in (await store.history(HistoryQuery())).items] == ids[::-1]


def test_sqlite_history_pages_use_an_index(tmp_path: Path) -> None:
    """Each page is an index range walk (no full scan, no sort) for every key shape."""
    from openfal.store.sqlite.schema import SCHEMA as _SCHEMA

    conn = sqlite3.connect(tmp_path / "plan.db")
    for statement in _SCHEMA:
        conn.execute(statement)
    for query in (
        HistoryQuery(before=(1.0, 5)),
        HistoryQuery(owner="u", before=(1.0, 5)),
        HistoryQuery(app_id="a", before=(1.0, 5), since=0.5),
        HistoryQuery(app_id="a", owner="u", until=3.0),
    ):
        sql, params = history_sql(HistoryQuery(**{**query.__dict__, "limit": 11}))
        plan = " | ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params))
        assert "USING INDEX" in plan and "TEMP B-TREE" not in plan, (query, plan)


async def test_history_page_from_a_second_store(make_store: StoreFactory, clock: FakeClock) -> None:
    """A cursor made by one gateway works on another (shared backends) or its own store."""
    first = await make_store()
    ids = [(await first.enqueue("a", "", b"{}")).id for _ in range(3)]
    page = await first.history(HistoryQuery(limit=2))
    assert [r.id for r in page.items] == ids[:0:-1] and page.next is not None
    rest = await first.history(HistoryQuery(limit=2, before=page.next))
    assert [r.id for r in rest.items] == [ids[0]] and rest.next is None
