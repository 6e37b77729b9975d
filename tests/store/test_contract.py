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


async def test_requeue_drops_the_dead_attempts_events_and_keeps_logs(store: Store) -> None:
    (rid,) = await _queued(store, 1)
    await _claim(store, worker="w1")
    await store.publish_event(rid, b'{"step": 0}')
    await store.publish_event(rid, b'{"step": 1}')
    await store.append_logs(rid, [LogEntry("first attempt")])
    assert await store.requeue(rid, "w1", "runner died", "runner_disconnected") is not None
    assert await store.get_events(rid) == []
    assert await store.get_logs(rid) == [LogEntry("first attempt")]
    await _claim(store, worker="w2")
    await store.publish_event(rid, b'{"step": 0, "attempt": 2}')
    assert await store.get_events(rid) == [b'{"step": 0, "attempt": 2}']


async def test_a_lost_requeue_race_keeps_the_events(store: Store) -> None:
    (rid,) = await _queued(store, 1)
    await _claim(store, worker="w1")
    await store.publish_event(rid, b"kept")
    # the lease was renewed after the housekeeper read it: the attempt lives on
    assert await store.requeue(rid, "w1", "x", "runner_disconnected", lease_before=0.0) is None
    assert await store.get_events(rid) == [b"kept"]
    await store.complete(rid, status_code=200, body=b"{}", worker_id="w1")
    assert await store.get_events(rid) == [b"kept"]


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
        for sql, args, index in [
            (HEAD_SQL, (APP,), "requests_queued"),
            (RANK_SQL, (APP, 1, 10), "requests_queued"),
            (COUNT_SQL[RequestStatus.IN_QUEUE], (APP,), "requests_queued"),
            (COUNT_SQL[RequestStatus.IN_PROGRESS], (APP,), "requests_running"),
        ]:
            plan = " ".join(r[-1] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, args))
            assert f"USING COVERING INDEX {index}" in plan, plan
            assert "TEMP B-TREE" not in plan, plan
        plan = " ".join(r[-1] for r in conn.execute("EXPLAIN QUERY PLAN " + EXPIRED_SQL, (1.0,)))
        assert "USING INDEX requests_running" in plan, plan
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


# ---------------------------------------------------------------------- redis only
#
# Against the session's real redis-server (conftest.redis_server). Two RedisStore
# instances on one server and prefix stand for two processes (conftest.redis_stores):
# nothing is shared between them but Redis.


async def test_redis_claim_wakes_on_enqueue_by_other_store(redis_stores: list[Store]) -> None:
    a, b = redis_stores
    claimer = asyncio.create_task(b.claim([APP], "w-b", timeout=60))
    await asyncio.sleep(0.05)
    rec = await a.enqueue(APP, "", b'{"x": 1}')
    claimed = await asyncio.wait_for(claimer, 60)
    assert claimed is not None
    assert (claimed.id, claimed.input, claimed.worker_id) == (rec.id, b'{"x": 1}', "w-b")
    seen = await a.get(rec.id)
    assert seen is not None
    assert (seen.status, seen.worker_id, seen.attempts) == (RequestStatus.IN_PROGRESS, "w-b", 1)


async def test_redis_wait_for_change_sees_other_store(redis_stores: list[Store]) -> None:
    a, b = redis_stores
    rec = await a.enqueue(APP, "", b"{}")
    await a.claim([APP], "w")
    waiter = asyncio.create_task(b.wait_for_change(rec.id, 60))
    await asyncio.sleep(0.05)
    await a.complete(rec.id, status_code=200, body=b"{}")
    # no polling behind wait_for_change: only the pub/sub message can end it early
    assert await asyncio.wait_for(waiter, 30) is True
    done = await b.get(rec.id)
    assert done is not None
    assert done.is_done


async def test_redis_change_between_read_and_wait_is_not_lost(redis_stores: list[Store]) -> None:
    a, b = redis_stores
    rec = await a.enqueue(APP, "", b"{}")
    await b.claim([APP], "w")

    # a read, then a change by another process, then the wait: it must return at once
    assert (await a.get(rec.id)) is not None
    await b.set_progress(rec.id, {"p": 1})
    assert await asyncio.wait_for(a.wait_for_change(rec.id, 60), 30) is True
    # nothing changed since the last read: it waits (and is not woken twice for one change)
    assert (await a.get(rec.id)) is not None
    assert await a.wait_for_change(rec.id, 0.2) is False

    for read in (a.get_logs, a.get_events):
        await read(rec.id)
        await b.append_logs(rec.id, [LogEntry("x")])
        assert await asyncio.wait_for(a.wait_for_change(rec.id, 60), 30) is True

    # the oldest read counts: a later read of the same request does not hide the change
    await a.get(rec.id)
    await b.publish_event(rec.id, b"e")
    await a.get_events(rec.id)
    assert await asyncio.wait_for(a.wait_for_change(rec.id, 60), 30) is True

    # readers in two tasks of one process each keep their own view
    async def read_then_wait(gate: asyncio.Event) -> bool:
        await a.get(rec.id)
        await gate.wait()
        return await a.wait_for_change(rec.id, 60)

    gates = [asyncio.Event(), asyncio.Event()]
    first = asyncio.create_task(read_then_wait(gates[0]))
    await asyncio.sleep(0.05)
    await b.set_progress(rec.id, {"p": 2})
    second = asyncio.create_task(read_then_wait(gates[1]))
    await asyncio.sleep(0.05)
    gates[1].set()
    await asyncio.sleep(0.05)
    assert not second.done()  # it read after the change
    gates[0].set()
    assert await asyncio.wait_for(first, 30) is True  # it read before the change
    await b.complete(rec.id, status_code=200, body=b"{}")
    assert await asyncio.wait_for(second, 30) is True

    # work: an empty claim, then an enqueue elsewhere, then the wait
    assert await a.claim(["other/app"], "w", timeout=0) is None
    await b.enqueue("other/app", "", b"{}")
    await asyncio.wait_for(a.wait_for_work(60), 30)


async def test_redis_concurrent_claimers_on_two_stores(redis_stores: list[Store]) -> None:
    a, b = redis_stores
    enqueued = asyncio.Event()

    async def claimer(store: Store, worker: str) -> list[str]:
        got = []
        while True:
            rec = await store.claim([APP], worker, timeout=0.3)
            if rec is not None:
                got.append(rec.id)
            elif enqueued.is_set():
                return got

    workers = [(s, f"w{i}-{j}") for i, s in enumerate((a, b)) for j in range(4)]
    tasks = [asyncio.create_task(claimer(s, w)) for s, w in workers]
    await asyncio.sleep(0.05)
    batches = await asyncio.gather(_queued(a, 50), _queued(b, 50))
    enqueued.set()
    results = await asyncio.wait_for(asyncio.gather(*tasks), 60)

    ids = [rid for batch in batches for rid in batch]
    claimed = [rid for got in results for rid in got]
    assert len(claimed) == len(set(claimed)) == 100
    assert set(claimed) == set(ids)
    for got, (_, worker) in zip(results, workers, strict=True):
        for rid in got:
            rec = await b.get(rid)
            assert rec is not None
            assert (rec.worker_id, rec.attempts, rec.status) == (
                worker,
                1,
                RequestStatus.IN_PROGRESS,
            )
    assert (await a.queue_depth(APP), await a.in_progress(APP)) == (0, 100)


async def test_redis_durable_across_restart(tmp_path: Path) -> None:
    from openfal.store.redis import RedisStore

    from .redis_server import start_redis

    server = start_redis(tmp_path / "redis", appendonly=True)
    try:
        store = RedisStore(server.url)
        await store.open()
        await store.open()  # idempotent
        queued = await store.enqueue(
            APP, "", b'{"q": 1}', priority=Priority.LOW, headers={"h": "v"}
        )
        running = await store.enqueue(APP, "", b'{"r": 1}', priority=Priority.HIGH)
        claimed = await store.claim([APP], "w1", lease_ttl=60)
        assert claimed is not None
        assert claimed.id == running.id
        await store.append_logs(running.id, [LogEntry("hello")])
        await store.publish_event(running.id, b"\x00ev")
        await store.register_app(AppRecord(app_id=APP, source="x.py::X", settings={"a": {"b": 1}}))
        await store.close()
        await store.close()  # idempotent

        server.restart(kill=True)  # SIGKILL: only what is on disk survives

        again = RedisStore(server.url)
        await again.open()
        try:
            assert await again.get(queued.id) == queued
            assert await again.get(running.id) == claimed
            assert await again.get_logs(running.id) == [LogEntry("hello")]
            assert await again.get_events(running.id) == [b"\x00ev"]
            app = await again.get_app(APP)
            assert app is not None
            assert app.settings == {"a": {"b": 1}}
            assert (await again.queue_depth(APP), await again.in_progress(APP)) == (1, 1)
            assert await again.queue_position(queued) == 0
            newer = await again.enqueue(APP, "", b"{}")
            assert newer.seq > max(queued.seq, running.seq)
            assert [(await _claim(again, worker="w2")).id for _ in range(2)] == [
                newer.id,
                queued.id,
            ]
        finally:
            await again.close()
    finally:
        server.stop()


async def test_redis_waiters_survive_a_server_restart(tmp_path: Path) -> None:
    from openfal.store.redis import RedisStore

    from .redis_server import start_redis

    server = start_redis(tmp_path / "redis", appendonly=True)
    a, b = RedisStore(server.url), RedisStore(server.url)
    try:
        await a.open()
        rec = await a.enqueue(APP, "", b"{}")
        waiter = asyncio.create_task(a.wait_for_change(rec.id, 60))
        await asyncio.sleep(0.05)
        server.restart(kill=True)
        # the subscription is gone with the connection: the waiter is told to look again
        assert await asyncio.wait_for(waiter, 30) is True
        assert await a.get(rec.id) == rec

        # and waiting works again, on the same store, for changes made elsewhere
        await b.open()
        waiter = asyncio.create_task(a.wait_for_change(rec.id, 60))
        await asyncio.sleep(0.05)
        assert await b.cancel(rec.id) is CancelOutcome.CANCELLED
        assert await asyncio.wait_for(waiter, 30) is True
        claimer = asyncio.create_task(a.claim([APP], "w", timeout=60))
        await asyncio.sleep(0.05)
        fresh = await b.enqueue(APP, "", b"{}")
        claimed = await asyncio.wait_for(claimer, 30)
        assert claimed is not None
        assert claimed.id == fresh.id
    finally:
        await a.close()
        await b.close()
        server.stop()


async def test_redis_one_pubsub_connection(redis_stores: list[Store], redis_raw: object) -> None:
    import redis.asyncio as aioredis

    assert isinstance(redis_raw, aioredis.Redis)
    a, b = redis_stores
    ids = await _queued(a, 5)
    waiters = [asyncio.create_task(a.wait_for_change(rid, 60)) for rid in ids for _ in range(3)]
    waiters.append(asyncio.create_task(a.wait_for_work(60)))
    prefix = a.prefix  # type: ignore[attr-defined]
    # subscribed for good: the process's own channel and the work channel, not one per wait
    channels = [f"{prefix}proc:{a._me}", f"{prefix}work"]  # type: ignore[attr-defined]

    async def numsub() -> list[int]:
        return [n for _, n in await redis_raw.pubsub_numsub(*channels)]

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while await numsub() != [1, 1]:
        assert loop.time() < deadline
        await asyncio.sleep(0.01)
    clients = await redis_raw.client_list()
    assert sum(1 for c in clients if int(c.get("sub", 0)) > 0) == 1  # one connection
    assert int((await redis_raw.pubsub_numpat()) or 0) == 0

    for rid in ids:
        await b.complete(rid, status_code=200, body=b"{}")
    assert await asyncio.wait_for(asyncio.gather(*waiters[:-1]), 30) == [True] * 15
    await b.enqueue(APP, "", b"{}")
    await asyncio.wait_for(waiters[-1], 30)
    assert await numsub() == [1, 1]  # the waits are over; the subscriptions stay
    clients = await redis_raw.client_list()
    assert sum(1 for c in clients if int(c.get("sub", 0)) > 0) == 2  # b's, since it inserted


async def test_redis_keys_stay_under_prefix_and_indexes_drain(
    redis_stores: list[Store], redis_raw: object, clock: FakeClock
) -> None:
    import redis.asyncio as aioredis

    assert isinstance(redis_raw, aioredis.Redis)
    a, b = redis_stores
    prefix: str = a.prefix  # type: ignore[attr-defined]
    before = {k async for k in redis_raw.scan_iter(count=1000)}

    ids = await _queued(a, 3, owner="alice") + await _queued(b, 3, app_id="x/y", priority=0)
    await a.append_logs(ids[0], [LogEntry("l")])
    await a.publish_event(ids[0], b"e")
    await a.register_app(AppRecord(app_id=APP, source="x.py::X"))
    first = await a.claim([APP, "x/y"], "w1", lease_ttl=5)
    assert first is not None
    assert first.id == ids[3]  # priority 0 first
    await b.requeue(first.id, "w1", "died", "runner_disconnected")
    assert await a.cancel(ids[1]) is CancelOutcome.CANCELLED
    while (rec := await b.claim([APP, "x/y"], "w2")) is not None:
        await b.complete(rec.id, status_code=200, body=b"{}", worker_id="w2")

    added = {k async for k in redis_raw.scan_iter(count=1000)} - before
    assert added
    assert all(k.decode().startswith(prefix) for k in added)

    clock.advance(10_000)
    assert await a.purge_completed() == 6
    await a.unregister_app(APP)
    left = {k.decode().removeprefix(prefix) for k in added if await redis_raw.exists(k)}
    assert left == set()  # every index emptied with its records


async def test_redis_queue_scores_exact_near_limits(redis_stores: list[Store]) -> None:
    a, _ = redis_stores
    a._last_seq = 2**40 - 10  # type: ignore[attr-defined]  # scores near 2**53 stay exact
    low = await _queued(a, 2, priority=Priority.LOW)
    normal = await _queued(a, 2, priority=Priority.NORMAL)
    high = await _queued(a, 2, priority=Priority.HIGH)
    recs = [await a.get(rid) for rid in high + normal + low]
    assert [await a.queue_position(r) for r in recs if r is not None] == [0, 1, 2, 3, 4, 5]
    assert [(await _claim(a)).id for _ in range(6)] == high + normal + low
    with pytest.raises(ValueError):
        await a.enqueue(APP, "", b"{}", priority=5000)


async def test_redis_from_url_and_closed_store(redis_server: object) -> None:
    from openfal.store.redis import RedisStore

    from .conftest import redis_prefix
    from .redis_server import RedisServer

    assert isinstance(redis_server, RedisServer)
    store = Store.from_url(redis_server.url, prefix=redis_prefix(), retention=10)
    assert isinstance(store, RedisStore)
    assert store.retention == 10
    await store.open()
    try:
        rec = await store.enqueue(APP, "", b"{}")
        assert await store.get(rec.id) == rec
    finally:
        await store.close()
    with pytest.raises(RuntimeError):
        await store.get(rec.id)


async def test_claim_many_takes_the_queue_in_order(store: Store, clock: FakeClock) -> None:
    low = await store.enqueue(APP, "", b"{}", priority=Priority.LOW)
    ids = await _queued(store, 3)
    late = await store.enqueue(APP, "", b"{}", start_timeout=1)
    other = await store.enqueue("acme/other", "", b"{}")
    clock.advance(2)  # `late` missed its start deadline: completed, not returned
    # the one that timed out counts against the limit: fewer may come back
    got = await store.claim_many([APP], "w1", 4, lease_ttl=10)
    assert [r.id for r in got] == ids
    got += await store.claim_many([APP], "w1", 4, lease_ttl=10)
    assert [r.id for r in got] == [*ids, low.id]
    for rec in got:
        assert rec.status is RequestStatus.IN_PROGRESS and rec.worker_id == "w1"
        assert rec.attempts == 1 and rec.lease_expires == clock.t + 10
    timed_out = await store.get(late.id)
    assert timed_out is not None and timed_out.status_code == 504
    assert await store.claim_many([APP], "w1", 4) == []
    assert [r.id for r in await store.claim_many([APP, "acme/other"], "w2", 1)] == [other.id]
    assert await store.in_progress(APP) == 4 and await store.queue_depth(APP) == 0


async def test_redis_store_takes_over_the_older_key_layout(
    redis_server: object, redis_raw: object
) -> None:
    """A server an older store used: its running requests keep their lease (an expired
    one is requeued), and the keys nothing reads any more go."""
    import redis.asyncio as aioredis

    from openfal.store.redis import RedisStore

    from .conftest import redis_prefix
    from .redis_server import RedisServer

    assert isinstance(redis_server, RedisServer)
    assert isinstance(redis_raw, aioredis.Redis)
    p = redis_prefix()
    fields = {"id": "old-1", "app_id": APP, "path": "", "input": b"{}", "status": "IN_PROGRESS",
              "priority": "1", "seq": "7", "mode": "queue", "created_at": "1.0",
              "attempts": "1", "worker_id": "w-old", "lease_expires": "5.0",
              "cancel_requested": "0", "headers": "{}", "result_headers": "{}",
              "metrics": "{}", "_v": "42"}  # fmt: skip
    await redis_raw.hset(f"{p}req:old-1", mapping=fields)  # type: ignore[arg-type]
    await redis_raw.zadd(f"{p}leases", {"old-1": 5.0})
    await redis_raw.sadd(f"{p}running:{APP}", "old-1")
    await redis_raw.zadd(f"{p}created:app:{APP}", {"0000000000007:old-1": 1.0})
    await redis_raw.zadd(f"{p}created", {"0000000000007:old-1": 1.0})
    await redis_raw.set(f"{p}version", 42)

    store = RedisStore(redis_server.url, prefix=p)
    await store.open()
    try:
        assert await store.in_progress(APP) == 1
        assert await store.requeue_expired(before=10.0) == ["old-1"]
        assert await store.queue_depth(APP) == 1
        newer = await store.enqueue(APP, "", b"{}")
        assert [(await _claim(store)).id for _ in range(2)] == ["old-1", newer.id]  # FIFO
        left = {k.decode().removeprefix(p) async for k in redis_raw.scan_iter(f"{p}*")}
        assert not left & {"leases", "version", f"running:{APP}", f"created:app:{APP}"}
    finally:
        await store.close()


async def test_redis_commands_per_request(redis_stores: list[Store], redis_raw: object) -> None:
    """The command budget of issue 14 (INFO commandstats counts what scripts run too): a
    direct run handed to an idle taker is 8 commands, a queued request 15, and reading a
    completed request this process wrote is free."""
    import redis.asyncio as aioredis

    from .test_handoff_contract import Taker

    assert isinstance(redis_raw, aioredis.Redis)
    a, _ = redis_stores

    async def calls() -> dict[str, int]:
        stats = await redis_raw.info("commandstats")
        return {k.removeprefix("cmdstat_"): v["calls"] for k, v in stats.items()}

    async def spent(before: dict[str, int]) -> dict[str, int]:
        after = await calls()
        out = {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}
        out.pop("info", None)
        return out

    taker = Taker(slots=1)
    a.register_taker(APP, taker)
    warm = await a.enqueue(APP, "", b"{}", mode="run")  # loads the scripts, subscribes
    await a.complete(warm.id, status_code=200, body=b"{}", worker_id=taker.worker_id)
    taker.held = 0

    before = await calls()
    rec = await a.enqueue(APP, "", b"{}", mode="run")
    assert taker.taken[-1][0].id == rec.id
    done = await a.complete(rec.id, status_code=200, body=b"{}", worker_id=taker.worker_id)
    assert done is not None
    assert await a.wait_done(rec.id, 5) == done  # the waiter's future: no read
    assert await a.get(rec.id) == done  # completed, written here: no read either
    # insert = EVALSHA ZADD(created, NX: the minted id's check) HSET ZADD(running);
    # complete = EVALSHA HMGET HSET ZREM(running)
    assert await spent(before) == {"evalsha": 2, "hset": 2, "zadd": 2,
                                   "hmget": 1, "zrem": 1}  # fmt: skip

    a.unregister_taker(APP, taker)
    warm = await a.enqueue(APP, "", b"{}")
    assert await a.claim([APP], "w") is not None  # loads the claim script
    await a.complete(warm.id, status_code=200, body=b"{}", worker_id="w")
    before = await calls()
    rec = await a.enqueue(APP, "", b"{}")
    claimed = await a.claim([APP], "w")
    assert claimed is not None and claimed.id == rec.id
    await a.complete(rec.id, status_code=200, body=b"{}", worker_id="w")
    # + PUBLISH work, work:{app} on insert; claim = EVALSHA ZPOPMIN HGETALL HSET ZADD
    assert await spent(before) == {"evalsha": 3, "hset": 3, "zadd": 3,
                                   "publish": 2, "zpopmin": 1, "hgetall": 1, "hmget": 1,
                                   "zrem": 1}  # fmt: skip


async def test_redis_key_revocations_of_the_older_layout(
    redis_server: object, redis_raw: object
) -> None:
    import redis.asyncio as aioredis

    from openfal.store.redis import RedisStore

    from .conftest import redis_prefix
    from .redis_server import RedisServer

    assert isinstance(redis_server, RedisServer)
    assert isinstance(redis_raw, aioredis.Redis)
    p = redis_prefix()
    first = RedisStore(redis_server.url, prefix=p)
    key, _ = await first.create_key("bob")
    kept, _ = await first.create_key("ann")
    assert await first.revoke_key(key.id)
    revoked_at = await redis_raw.hget(f"{p}keys", f"revoked:{key.id}")
    assert revoked_at is not None
    await first.close()
    # as an older store left it: revocations in a hash of their own
    await redis_raw.hdel(f"{p}keys", f"revoked:{key.id}")
    await redis_raw.hset(f"{p}keys:revoked", key.id, revoked_at)

    again = RedisStore(redis_server.url, prefix=p)
    await again.open()
    try:
        got = await again.get_key(key.id)
        assert got is not None and got.revoked and got.revoked_at == float(revoked_at)
        assert {k.id: k.revoked for k in await again.list_keys()} == {
            key.id: True,
            kept.id: False,
        }
        assert not await again.revoke_key(key.id)
        assert await again.get_key(f"revoked:{key.id}") is None
        assert not await again.revoke_key(f"revoked:{key.id}")
        assert not await redis_raw.exists(f"{p}keys:revoked")
    finally:
        await again.close()


async def test_redis_change_heard_before_the_watch_reply_is_not_lost(
    redis_stores: list[Store],
) -> None:
    """b waits on a request it never watched: its watch script registers it and reads
    the version; a change that lands right after, whose message b reads before the
    script's reply, still ends the wait."""
    a, b = redis_stores
    rec = await a.enqueue(APP, "", b"{}")
    assert await b.get(rec.id) is not None
    watch = b._watch_script  # type: ignore[attr-defined]

    async def watch_then_change(*args: object, **kwargs: object) -> object:
        version = await watch(*args, **kwargs)
        await a.append_logs(rec.id, [LogEntry("x")])  # a change, published to b
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while (b._known.heard_of(rec.id) or (0, 0))[0] <= int(version):  # type: ignore[attr-defined]
            assert loop.time() < deadline
            await asyncio.sleep(0.005)
        return version

    b._watch_script = watch_then_change  # type: ignore[attr-defined]
    assert await asyncio.wait_for(b.wait_for_change(rec.id, 1.0), 30) is True


async def test_redis_remembers_records_within_a_byte_bound(
    redis_stores: list[Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records too big to remember are read back by the script instead."""
    a, b = redis_stores
    known = a._known  # type: ignore[attr-defined]
    monkeypatch.setattr(known, "keep_bytes", 4096)
    big = await a.enqueue(APP, "", b'{"x": "' + b"y" * 8000 + b'"}')
    small = await a.enqueue(APP, "", b"{}")
    assert known.record(big.id) is None and known.record(small.id) is not None
    assert 0 < known.bytes <= 4096
    claimed = [await _claim(a), await _claim(a)]
    assert [r.id for r in claimed] == [big.id, small.id]
    done = await a.complete(big.id, status_code=200, body=b"{}", worker_id=claimed[0].worker_id)
    assert done is not None and done.input == big.input and done.is_done
    assert await b.get(big.id) == done
