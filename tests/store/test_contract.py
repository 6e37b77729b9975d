"""The store contract, run against every backend (see conftest.BACKENDS)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from openfal.store import (
    AppRecord,
    CancelOutcome,
    LogEntry,
    Priority,
    RequestRecord,
    RequestStatus,
    Store,
)
from openfal.store.memory import MemoryStore
from openfal.store.sqlite import COUNT_SQL, EXPIRED_SQL, HEAD_SQL, RANK_SQL, SQLiteStore

from .conftest import FakeClock, StoreFactory

APP = "acme/flux"


async def _queued(store: Store, n: int, app_id: str = APP, **kwargs: object) -> list[str]:
    ids = []
    for i in range(n):
        rec = await store.enqueue(app_id, "", json.dumps({"i": i}).encode(), **kwargs)
        ids.append(rec.id)
    return ids


async def _claim(
    store: Store, app_ids: list[str] | None = None, worker: str = "w1"
) -> RequestRecord:
    rec = await store.claim(app_ids or [APP], worker)
    assert rec is not None
    return rec


# ---------------------------------------------------------------------- enqueue / get


async def test_enqueue_get_round_trip(store: Store, clock: FakeClock) -> None:
    body = b'{"prompt": "caf\xc3\xa9"}\x00\xff'  # any bytes survive
    rec = await store.enqueue(
        APP,
        "/v1/images/",
        body,
        priority=Priority.LOW,
        mode="stream",
        owner="alice",
        start_timeout=30,
        webhook_url="https://example.com/hook",
        hint="gpu-a",
        headers={"x-fal-request-id": "abc", "accept": "ü"},
        request_id="req-1",
    )
    assert rec.id == "req-1"
    assert rec.app_id == APP
    assert rec.path == "v1/images"
    assert rec.input == body
    assert rec.status is RequestStatus.IN_QUEUE
    assert rec.priority == Priority.LOW
    assert rec.seq > 0
    assert rec.mode == "stream"
    assert rec.owner == "alice"
    assert rec.created_at == clock.t
    assert rec.start_deadline == clock.t + 30
    assert rec.webhook_url == "https://example.com/hook"
    assert rec.hint == "gpu-a"
    assert rec.headers == {"x-fal-request-id": "abc", "accept": "ü"}
    assert (rec.attempts, rec.worker_id, rec.lease_expires) == (0, None, None)
    assert (rec.started_at, rec.completed_at, rec.progress) == (None, None, None)
    assert (rec.status_code, rec.result, rec.error, rec.error_type) == (None, None, None, None)
    assert (rec.result_headers, rec.metrics, rec.cancel_requested) == ({}, {}, False)
    assert await store.get("req-1") == rec

    clock.advance(1)
    running = await store.claim([APP], "w1", lease_ttl=10)
    assert running is not None
    assert running.status is RequestStatus.IN_PROGRESS
    assert (running.worker_id, running.attempts) == ("w1", 1)
    assert running.started_at == clock.t
    assert running.lease_expires == clock.t + 10
    assert await store.get("req-1") == running

    await store.set_progress("req-1", {"step": 3, "of": [1, 2, {"x": None}]})
    assert await store.cancel("req-1") is CancelOutcome.REQUESTED
    progressed = await store.get("req-1")
    assert progressed is not None
    assert progressed.progress == {"step": 3, "of": [1, 2, {"x": None}]}
    assert progressed.cancel_requested is True

    clock.advance(2)
    done = await store.complete(
        "req-1",
        status_code=200,
        body=b'{"images": []}',
        headers={"content-type": "application/json"},
        metrics={"inference_time": 1.5, "nested": {"a": [1]}},
        worker_id="w1",
    )
    assert done is not None
    assert done.status is RequestStatus.COMPLETED
    assert done.completed_at == clock.t
    assert done.status_code == 200
    assert done.result == b'{"images": []}'
    assert done.result_headers == {"content-type": "application/json"}
    assert done.metrics == {"inference_time": 1.5, "nested": {"a": [1]}}
    assert done.lease_expires is None
    assert done.succeeded
    assert await store.get("req-1") == done


async def test_get_unknown_is_none(store: Store) -> None:
    assert await store.get("nope") is None


async def test_enqueue_assigns_ids_and_increasing_seq(store: Store) -> None:
    a = await store.enqueue(APP, "", b"{}")
    b = await store.enqueue("other/app", "", b"{}")
    c = await store.enqueue(APP, "", b"{}")
    assert len({a.id, b.id, c.id}) == 3
    assert a.seq < b.seq < c.seq


async def test_duplicate_request_id_rejected(store: Store) -> None:
    await store.enqueue(APP, "", b"{}", request_id="same")
    with pytest.raises(ValueError):
        await store.enqueue(APP, "", b"{}", request_id="same")


# ---------------------------------------------------------------------- ordering


async def test_fifo_within_priority(store: Store) -> None:
    ids = await _queued(store, 5)
    assert [(await _claim(store)).id for _ in ids] == ids
    assert await store.claim([APP], "w1") is None


async def test_priority_order(store: Store) -> None:
    low = await _queued(store, 2, priority=Priority.LOW)
    normal = await _queued(store, 2, priority=Priority.NORMAL)
    high = await _queued(store, 2, priority=Priority.HIGH)
    claimed = [(await _claim(store)).id for _ in range(6)]
    assert claimed == high + normal + low


async def test_queue_position(store: Store) -> None:
    a, b, c, d = await _queued(store, 4)
    recs = {i: await store.get(i) for i in (a, b, c, d)}
    positions = [await store.queue_position(r) for r in recs.values() if r is not None]
    assert positions == [0, 1, 2, 3]

    high = await store.enqueue(APP, "", b"{}", priority=Priority.HIGH)
    assert await store.queue_position(high) == 0
    rec_d = recs[d]
    assert rec_d is not None
    assert await store.queue_position(rec_d) == 4

    # other apps do not count
    await _queued(store, 3, app_id="other/app")
    assert await store.queue_position(rec_d) == 4

    assert (await _claim(store)).id == high.id
    assert (await _claim(store)).id == a
    assert await store.cancel(c) is CancelOutcome.CANCELLED
    # b is next, then d
    rec_b = await store.get(b)
    rec_d = await store.get(d)
    assert rec_b is not None and rec_d is not None
    assert await store.queue_position(rec_b) == 0
    assert await store.queue_position(rec_d) == 1

    # not queued -> 0
    running = await store.get(a)
    cancelled = await store.get(c)
    assert running is not None and cancelled is not None
    assert await store.queue_position(running) == 0
    assert await store.queue_position(cancelled) == 0


# ---------------------------------------------------------------------- claim


async def test_claim_across_app_ids(store: Store) -> None:
    a1 = await store.enqueue("a", "", b"{}")
    b1 = await store.enqueue("b", "", b"{}")
    a2 = await store.enqueue("a", "", b"{}")
    b_high = await store.enqueue("b", "", b"{}", priority=Priority.HIGH)
    c1 = await store.enqueue("c", "", b"{}", priority=Priority.HIGH)

    order = [(await _claim(store, ["a", "b", "a"])).id for _ in range(4)]
    assert order == [b_high.id, a1.id, b1.id, a2.id]
    assert await store.claim(["a", "b"], "w1") is None
    assert (await _claim(store, ["c"])).id == c1.id
    assert await store.claim([], "w1") is None


async def test_claim_waits_for_enqueue(store: Store) -> None:
    claimer = asyncio.create_task(store.claim([APP], "w1", timeout=60))
    await asyncio.sleep(0.05)
    assert not claimer.done()
    rec = await store.enqueue(APP, "", b"{}")
    claimed = await asyncio.wait_for(claimer, 60)
    assert claimed is not None
    assert claimed.id == rec.id
    assert claimed.status is RequestStatus.IN_PROGRESS


async def test_claim_times_out_when_empty(store: Store) -> None:
    await store.enqueue("other/app", "", b"{}")
    assert await store.claim([APP], "w1", timeout=0.1) is None


async def test_claim_skips_expired_start_deadline(store: Store, clock: FakeClock) -> None:
    late = await store.enqueue(APP, "", b"{}", start_timeout=10)
    fresh = await store.enqueue(APP, "", b"{}", start_timeout=100)
    clock.advance(11)

    claimed = await store.claim([APP], "w1")
    assert claimed is not None
    assert claimed.id == fresh.id

    done = await store.get(late.id)
    assert done is not None
    assert done.status is RequestStatus.COMPLETED
    assert done.status_code == 504
    assert done.error_type == "request_timeout"
    assert done.result_headers == {"x-fal-request-timeout-type": "user"}
    assert done.result is not None
    assert json.loads(done.result)["error_type"] == "request_timeout"
    assert not done.succeeded
    assert await store.queue_depth(APP) == 0


async def test_attempts_increment_per_claim(store: Store) -> None:
    (rid,) = await _queued(store, 1)
    assert (await _claim(store, worker="w1")).attempts == 1
    assert await store.requeue(rid, "w1", "runner died", "runner_disconnected") is not None
    second = await _claim(store, worker="w2")
    assert (second.attempts, second.worker_id) == (2, "w2")


# ---------------------------------------------------------------------- leases


async def test_renew_lease(store: Store, clock: FakeClock) -> None:
    (rid,) = await _queued(store, 1)
    await store.claim([APP], "w1", lease_ttl=5)
    clock.advance(3)
    assert await store.renew_lease(rid, "w1", lease_ttl=5) is True
    rec = await store.get(rid)
    assert rec is not None
    assert rec.lease_expires == clock.t + 5

    assert await store.renew_lease(rid, "w2") is False
    assert await store.renew_lease("unknown", "w1") is False
    await store.complete(rid, status_code=200, body=b"{}", worker_id="w1")
    assert await store.renew_lease(rid, "w1") is False


async def test_requeue_expired(store: Store, clock: FakeClock) -> None:
    a, b = await _queued(store, 2)
    await store.claim([APP], "w1", lease_ttl=10)
    await store.claim([APP], "w2", lease_ttl=30)
    clock.advance(5)
    assert await store.requeue_expired() == []
    clock.advance(10)  # a's lease expired, b's did not
    assert await store.requeue_expired() == [a]
    rec_a = await store.get(a)
    assert rec_a is not None
    assert rec_a.status is RequestStatus.IN_QUEUE
    assert (rec_a.worker_id, rec_a.lease_expires, rec_a.started_at) == (None, None, None)
    rec_b = await store.get(b)
    assert rec_b is not None
    assert rec_b.status is RequestStatus.IN_PROGRESS
    # the old owner lost it
    assert await store.renew_lease(a, "w1") is False
    assert await store.complete(a, status_code=200, body=b"{}", worker_id="w1") is None


# ---------------------------------------------------------------------- complete / fail


async def test_complete_only_once(store: Store) -> None:
    (rid,) = await _queued(store, 1)
    await _claim(store)
    first = await store.complete(rid, status_code=200, body=b"1", worker_id="w1")
    assert first is not None
    assert await store.complete(rid, status_code=500, body=b"2", worker_id="w1") is None
    assert await store.complete(rid, status_code=500, body=b"2") is None
    rec = await store.get(rid)
    assert rec is not None
    assert (rec.status_code, rec.result) == (200, b"1")
    assert await store.complete("unknown", status_code=200, body=b"") is None


async def test_complete_only_by_lease_owner(store: Store) -> None:
    (rid,) = await _queued(store, 1)
    await _claim(store, worker="w1")
    assert await store.complete(rid, status_code=200, body=b"x", worker_id="w2") is None
    rec = await store.get(rid)
    assert rec is not None
    assert rec.status is RequestStatus.IN_PROGRESS
    # without worker_id (the gateway) anyone may finish it
    done = await store.complete(rid, status_code=200, body=b"x")
    assert done is not None
    assert done.status is RequestStatus.COMPLETED


async def test_fail_body(store: Store) -> None:
    (rid,) = await _queued(store, 1)
    await _claim(store)
    rec = await store.fail(
        rid, 422, "bad input", "validation_error", headers={"x-fal-error-type": "v"}, worker_id="w1"
    )
    assert rec is not None
    assert rec.result is not None
    assert json.loads(rec.result) == {"detail": "bad input", "error_type": "validation_error"}
    assert (rec.status_code, rec.error, rec.error_type) == (422, "bad input", "validation_error")
    assert rec.result_headers == {"x-fal-error-type": "v"}
    assert not rec.succeeded


# ---------------------------------------------------------------------- cancel


async def test_cancel_queued(store: Store) -> None:
    a, b = await _queued(store, 2)
    assert await store.cancel(a) is CancelOutcome.CANCELLED
    rec = await store.get(a)
    assert rec is not None
    assert rec.status is RequestStatus.COMPLETED
    assert (rec.status_code, rec.error_type) == (499, "client_cancelled")
    assert rec.result is not None
    assert json.loads(rec.result)["error_type"] == "client_cancelled"
    assert await store.queue_depth(APP) == 1
    assert (await _claim(store)).id == b


async def test_cancel_running(store: Store) -> None:
    (rid,) = await _queued(store, 1)
    await _claim(store)
    assert await store.cancel(rid) is CancelOutcome.REQUESTED
    rec = await store.get(rid)
    assert rec is not None
    assert rec.status is RequestStatus.IN_PROGRESS
    assert rec.cancel_requested is True


async def test_cancel_completed_and_unknown(store: Store) -> None:
    (rid,) = await _queued(store, 1)
    await _claim(store)
    await store.complete(rid, status_code=200, body=b"{}")
    assert await store.cancel(rid) is CancelOutcome.ALREADY_COMPLETED
    assert await store.cancel("unknown") is CancelOutcome.NOT_FOUND


# ---------------------------------------------------------------------- requeue


async def test_requeue_keeps_place(store: Store) -> None:
    a, b, c = await _queued(store, 3)
    await _claim(store, worker="w1")
    rec_b = await store.get(b)
    assert rec_b is not None
    assert await store.queue_position(rec_b) == 0

    back = await store.requeue(a, "w1", "runner died", "runner_disconnected")
    assert back is not None
    assert back.status is RequestStatus.IN_QUEUE
    assert (back.worker_id, back.lease_expires, back.progress) == (None, None, None)
    assert await store.queue_position(back) == 0
    rec_b = await store.get(b)
    assert rec_b is not None
    assert await store.queue_position(rec_b) == 1
    assert [(await _claim(store)).id for _ in range(3)] == [a, b, c]


async def test_requeue_checks_owner_and_status(store: Store) -> None:
    (rid,) = await _queued(store, 1)
    assert await store.requeue(rid, None, "x", "runner_disconnected") is None  # still queued
    await _claim(store, worker="w1")
    assert await store.requeue(rid, "w2", "x", "runner_disconnected") is None
    assert await store.requeue("unknown", None, "x", "runner_disconnected") is None
    assert await store.requeue(rid, None, "x", "runner_disconnected") is not None


async def test_requeue_after_max_attempts_fails(make_store: StoreFactory) -> None:
    store = await make_store(max_attempts=2)
    (rid,) = await _queued(store, 1)
    await _claim(store)
    assert await store.requeue(rid, "w1", "Runner crashed", "runner_crashed") is not None
    await _claim(store)
    failed = await store.requeue(rid, "w1", "Runner crashed", "runner_crashed")
    assert failed is not None
    assert failed.status is RequestStatus.COMPLETED
    assert (failed.status_code, failed.error_type) == (503, "runner_crashed")
    assert failed.result is not None
    body = json.loads(failed.result)
    assert body["error_type"] == "runner_crashed"
    assert "Runner crashed" in body["detail"]
    assert await store.queue_depth(APP) == 0


async def test_requeue_of_cancel_requested_completes_it(store: Store) -> None:
    (rid,) = await _queued(store, 1)
    await _claim(store)
    await store.cancel(rid)
    rec = await store.requeue(rid, "w1", "runner died", "runner_disconnected")
    assert rec is not None
    assert rec.status is RequestStatus.COMPLETED
    assert (rec.status_code, rec.error_type) == (499, "client_cancelled")
    assert await store.queue_depth(APP) == 0


# ---------------------------------------------------------------------- logs, events, progress


async def test_logs(store: Store) -> None:
    (rid,) = await _queued(store, 1)
    assert await store.get_logs(rid) == []
    first = [LogEntry("loading", timestamp="t0"), LogEntry("warm", level="DEBUG", source="RUNNER")]
    await store.append_logs(rid, first)
    await store.append_logs(rid, [])
    await store.append_logs(rid, iter([LogEntry("step 1", level="ERROR")]))
    logs = await store.get_logs(rid)
    assert logs == [*first, LogEntry("step 1", level="ERROR")]
    assert await store.get_logs(rid, since=2) == [LogEntry("step 1", level="ERROR")]
    assert await store.get_logs(rid, since=3) == []
    assert await store.get_logs("other") == []


async def test_events(store: Store) -> None:
    (rid,) = await _queued(store, 1)
    assert await store.get_events(rid) == []
    for chunk in (b"data: 1", b"\x00\xff", b""):
        await store.publish_event(rid, chunk)
    assert await store.get_events(rid) == [b"data: 1", b"\x00\xff", b""]
    assert await store.get_events(rid, since=1) == [b"\x00\xff", b""]
    assert await store.get_events(rid, since=5) == []


async def test_set_progress_only_while_running(store: Store) -> None:
    (rid,) = await _queued(store, 1)
    await store.set_progress(rid, {"p": 0})
    rec = await store.get(rid)
    assert rec is not None
    assert rec.progress is None
    await _claim(store)
    await store.set_progress(rid, {"p": 0.5})
    rec = await store.get(rid)
    assert rec is not None
    assert rec.progress == {"p": 0.5}
    await store.complete(rid, status_code=200, body=b"{}")
    await store.set_progress(rid, {"p": 1})
    rec = await store.get(rid)
    assert rec is not None
    assert rec.progress == {"p": 0.5}


async def test_wait_for_change_wakes_on_complete(store: Store) -> None:
    (rid,) = await _queued(store, 1)
    await _claim(store)
    waiter = asyncio.create_task(store.wait_for_change(rid, 60))
    await asyncio.sleep(0.05)
    assert not waiter.done()
    await store.complete(rid, status_code=200, body=b"{}")
    assert await asyncio.wait_for(waiter, 60) is True
    rec = await store.get(rid)
    assert rec is not None
    assert rec.is_done


async def test_wait_for_change_times_out(store: Store) -> None:
    (rid,) = await _queued(store, 1)
    assert await store.wait_for_change(rid, 0.05) is False


# ---------------------------------------------------------------------- counts and listing


async def test_queue_depth_and_in_progress(store: Store) -> None:
    assert (await store.queue_depth(APP), await store.in_progress(APP)) == (0, 0)
    ids = await _queued(store, 4)
    await _queued(store, 2, app_id="other/app")
    assert (await store.queue_depth(APP), await store.in_progress(APP)) == (4, 0)
    await _claim(store)
    await _claim(store)
    assert (await store.queue_depth(APP), await store.in_progress(APP)) == (2, 2)
    await store.complete(ids[0], status_code=200, body=b"{}")
    await store.cancel(ids[3])
    assert (await store.queue_depth(APP), await store.in_progress(APP)) == (1, 1)
    assert (await store.queue_depth("other/app"), await store.in_progress("other/app")) == (2, 0)


async def test_list_requests(store: Store, clock: FakeClock) -> None:
    ids = []
    for i, (app, owner) in enumerate(
        [("a", "alice"), ("b", "bob"), ("a", "bob"), ("a", "alice"), ("b", "alice")]
    ):
        if i != 3:  # ids[2] and ids[3] share created_at: seq breaks the tie
            clock.advance(1)
        ids.append((await store.enqueue(app, "", b"{}", owner=owner)).id)
    await _claim(store, ["a"])  # ids[0] in progress

    assert [r.id for r in await store.list_requests()] == ids[::-1]
    assert [r.id for r in await store.list_requests(limit=2)] == [ids[4], ids[3]]
    assert [r.id for r in await store.list_requests(app_id="a")] == [ids[3], ids[2], ids[0]]
    assert [r.id for r in await store.list_requests(owner="alice")] == [ids[4], ids[3], ids[0]]
    assert [r.id for r in await store.list_requests(status=RequestStatus.IN_PROGRESS)] == [ids[0]]
    assert [
        r.id
        for r in await store.list_requests(app_id="a", owner="alice", status=RequestStatus.IN_QUEUE)
    ] == [ids[3]]
    assert await store.list_requests(app_id="zzz") == []


async def test_purge_completed(make_store: StoreFactory, clock: FakeClock) -> None:
    store = await make_store(retention=100)
    old, recent, running, queued = await _queued(store, 4)
    for rid in (old, recent, running):
        await store.append_logs(rid, [LogEntry("hi")])
        await store.publish_event(rid, b"ev")
    await _claim(store)
    await _claim(store)
    await _claim(store)
    await store.complete(old, status_code=200, body=b"{}")
    clock.advance(50)
    await store.complete(recent, status_code=200, body=b"{}")
    clock.advance(60)  # old finished 110 s ago, recent 60 s ago

    assert await store.purge_completed() == 1
    assert await store.get(old) is None
    assert await store.get_logs(old) == []
    assert await store.get_events(old) == []
    for rid in (recent, running, queued):
        assert await store.get(rid) is not None
    assert await store.get_logs(recent) == [LogEntry("hi")]
    assert await store.get_events(running) == [b"ev"]
    assert await store.purge_completed() == 0

    clock.advance(1000)  # active requests are never purged
    assert await store.purge_completed() == 1
    assert await store.get(running) is not None
    assert await store.get(queued) is not None


# ---------------------------------------------------------------------- apps


async def test_apps_round_trip(store: Store, clock: FakeClock) -> None:
    app = AppRecord(
        app_id="acme/flux",
        source="apps/flux.py::Flux",
        settings={"machine_type": "GPU", "keep_alive": 300, "env": {"A": "1"}, "tags": ["x"]},
        endpoints={"": {"input_schema": {"type": "object", "properties": {"p": {}}}}},
    )
    await store.register_app(app)
    got = await store.get_app("acme/flux")
    assert got is not None
    assert got.registered_at == clock.t
    assert got == AppRecord(**{**app.__dict__, "registered_at": clock.t})

    other = AppRecord(app_id="acme/aaa", source="pkg.mod:Cls", registered_at=5.0)
    await store.register_app(other)
    assert [a.app_id for a in await store.list_apps()] == ["acme/aaa", "acme/flux"]
    assert await store.get_app("acme/aaa") == other

    # re-registering replaces
    await store.register_app(AppRecord(app_id="acme/flux", source="new.py::Flux"))
    replaced = await store.get_app("acme/flux")
    assert replaced is not None
    assert (replaced.source, replaced.settings) == ("new.py::Flux", {})

    assert await store.unregister_app("acme/flux") is True
    assert await store.unregister_app("acme/flux") is False
    assert await store.get_app("acme/flux") is None
    assert [a.app_id for a in await store.list_apps()] == ["acme/aaa"]


# ---------------------------------------------------------------------- concurrency


async def test_concurrent_claimers_never_share(store: Store) -> None:
    ids = await _queued(store, 50)

    async def drain(worker: str) -> list[str]:
        got = []
        while (rec := await store.claim([APP], worker)) is not None:
            got.append(rec.id)
            await asyncio.sleep(0)
        return got

    results = await asyncio.gather(*(drain(f"w{i}") for i in range(3)))
    claimed = [rid for got in results for rid in got]
    assert sorted(claimed) == sorted(ids)


# ---------------------------------------------------------------------- factory


async def test_from_url(tmp_path: Path) -> None:
    assert isinstance(Store.from_url("memory://", max_attempts=5), MemoryStore)
    db = tmp_path / "sub" / "x.db"
    store = Store.from_url(f"sqlite:///{db}", retention=10)
    assert isinstance(store, SQLiteStore)
    assert (store.path, store.retention) == (str(db), 10)
    await store.open()
    try:
        await store.enqueue(APP, "", b"{}")
    finally:
        await store.close()
    assert db.exists()
    with pytest.raises(ValueError):
        Store.from_url("mysql://x")


# ---------------------------------------------------------------------- sqlite only


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "nested" / "dir" / "openfal.sqlite3")


@pytest.fixture
async def two_stores(db_path: str) -> AsyncIterator[list[SQLiteStore]]:
    """Two stores on one file, as if in two processes."""
    stores = [SQLiteStore(db_path), SQLiteStore(db_path)]
    for s in stores:
        await s.open()
    yield stores
    for s in stores:
        await s.close()


async def test_sqlite_shared_file(two_stores: list[SQLiteStore]) -> None:
    a, b = two_stores
    rec = await a.enqueue(APP, "", b'{"x": 1}')
    claimed = await b.claim([APP], "w-b")
    assert claimed is not None
    assert claimed.id == rec.id
    seen = await a.get(rec.id)
    assert seen is not None
    assert (seen.status, seen.worker_id) == (RequestStatus.IN_PROGRESS, "w-b")
    assert await a.claim([APP], "w-a") is None


async def test_sqlite_claim_wakes_on_enqueue_by_other_store(two_stores: list[SQLiteStore]) -> None:
    a, b = two_stores
    claimer = asyncio.create_task(b.claim([APP], "w-b", timeout=60))
    await asyncio.sleep(0.05)
    rec = await a.enqueue(APP, "", b"{}")
    claimed = await asyncio.wait_for(claimer, 60)
    assert claimed is not None
    assert claimed.id == rec.id


async def test_sqlite_wait_for_change_sees_other_store(two_stores: list[SQLiteStore]) -> None:
    a, b = two_stores
    rec = await a.enqueue(APP, "", b"{}")
    await a.claim([APP], "w")
    waiter = asyncio.create_task(b.wait_for_change(rec.id, 60))
    await asyncio.sleep(0.05)
    await a.complete(rec.id, status_code=200, body=b"{}")
    # b polls the file's data_version while it waits: woken well before the timeout
    assert await asyncio.wait_for(waiter, 30) is True


async def test_sqlite_concurrent_claimers_on_two_stores(two_stores: list[SQLiteStore]) -> None:
    a, b = two_stores
    ids = await _queued(a, 50)

    async def drain(store: Store, worker: str) -> list[str]:
        got = []
        while (rec := await store.claim([APP], worker)) is not None:
            got.append(rec.id)
        return got

    results = await asyncio.gather(
        drain(a, "wa1"), drain(b, "wb1"), drain(a, "wa2"), drain(b, "wb2")
    )
    claimed = [rid for got in results for rid in got]
    assert len(claimed) == len(set(claimed)) == 50
    assert set(claimed) == set(ids)
    for got, worker in zip(results, ["wa1", "wb1", "wa2", "wb2"], strict=True):
        for rid in got:
            rec = await a.get(rid)
            assert rec is not None
            assert (rec.worker_id, rec.attempts) == (worker, 1)


async def test_sqlite_durable_across_reopen(db_path: str) -> None:
    store = SQLiteStore(db_path)
    await store.open()
    await store.open()  # idempotent
    queued = await store.enqueue(APP, "", b'{"q": 1}', priority=Priority.LOW, headers={"h": "v"})
    running = await store.enqueue(APP, "", b'{"r": 1}', priority=Priority.HIGH)
    claimed = await store.claim([APP], "w1", lease_ttl=60)
    assert claimed is not None
    assert claimed.id == running.id
    await store.append_logs(running.id, [LogEntry("hello")])
    await store.register_app(AppRecord(app_id=APP, source="x.py::X", settings={"a": {"b": 1}}))
    await store.close()
    await store.close()  # idempotent

    again = SQLiteStore(db_path)
    await again.open()
    try:
        assert await again.get(queued.id) == queued
        assert await again.get(running.id) == claimed
        assert await again.get_logs(running.id) == [LogEntry("hello")]
        app = await again.get_app(APP)
        assert app is not None
        assert app.settings == {"a": {"b": 1}}
        assert await again.queue_depth(APP) == 1
        assert await again.in_progress(APP) == 1
        # seq keeps increasing after a reopen
        newer = await again.enqueue(APP, "", b"{}")
        assert newer.seq > max(queued.seq, running.seq)
    finally:
        await again.close()


async def test_sqlite_file_settings_and_indexes(db_path: str) -> None:
    store = SQLiteStore(db_path)
    await store.open()
    await store.enqueue(APP, "", b"{}")
    await store.close()
    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"requests", "logs", "events", "apps"} <= tables
        for sql, args in [
            (HEAD_SQL, (APP,)),
            (RANK_SQL, (APP, 1, 10)),
            (COUNT_SQL, (APP, "IN_QUEUE")),
        ]:
            plan = " ".join(r[-1] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, args))
            assert "USING COVERING INDEX requests_queue" in plan, plan
            assert "TEMP B-TREE" not in plan, plan
        plan = " ".join(r[-1] for r in conn.execute("EXPLAIN QUERY PLAN " + EXPIRED_SQL, (1.0,)))
        assert "USING INDEX requests_lease" in plan, plan
    finally:
        conn.close()


async def test_sqlite_closed_store_refuses_work(db_path: str) -> None:
    store = SQLiteStore(db_path)
    await store.open()
    await store.close()
    with pytest.raises(RuntimeError):
        await store.get("x")


async def test_sqlite_change_during_read_is_not_lost(db_path: str) -> None:
    """Reads run on another thread: a change notified meanwhile must wake the next wait."""
    store = SQLiteStore(db_path, poll_interval=0)
    await store.open()
    try:
        rec = await store.enqueue(APP, "", b"{}")
        for read in (store.get, store.get_logs, store.get_events):
            reader = asyncio.create_task(read(rec.id))
            await asyncio.sleep(0)  # the read is in flight on the database thread
            store._notify(rec.id)  # a change lands before the reader gets to wait
            await reader
            assert await asyncio.wait_for(store.wait_for_change(rec.id, 60), 30) is True
    finally:
        await store.close()
