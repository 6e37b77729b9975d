"""Housekeeping runs in every gateway and worker: it must never take a live request."""

from __future__ import annotations

from openfal.store import RequestStatus, Store

from .conftest import FakeClock, StoreFactory


async def test_a_renewal_that_lands_before_the_requeue_wins(store: Store, clock: FakeClock):
    rec = await store.enqueue("a/app", "", b"{}")
    claimed = await store.claim(["a/app"], "w1", lease_ttl=5)
    assert claimed is not None and claimed.id == rec.id
    clock.advance(6)
    seen_expired_at = clock.t
    assert [r.id for r in await store._expired_leases(seen_expired_at)] == [rec.id]
    assert await store.renew_lease(rec.id, "w1", lease_ttl=5)  # the worker was only late
    assert (
        await store.requeue(
            rec.id,
            "w1",
            "Runner lease expired",
            "runner_disconnected",
            lease_before=seen_expired_at,
        )
        is None
    )
    assert await store.requeue_expired() == []
    still = await store.get(rec.id)
    assert still is not None and still.status is RequestStatus.IN_PROGRESS
    assert still.worker_id == "w1"


async def test_two_housekeepers_requeue_an_expired_request_once(
    make_store: StoreFactory, backend: str, clock: FakeClock
):
    first = await make_store(max_attempts=1)
    second = first if backend == "memory" else await make_store(max_attempts=1)
    rec = await first.enqueue("a/app", "", b"{}")
    assert await first.claim(["a/app"], "w1", lease_ttl=5) is not None
    clock.advance(6)
    a = await first.requeue_expired()
    b = await second.requeue_expired()
    assert sorted(a + b) == [rec.id]
    done = await second.get(rec.id)
    assert done is not None and done.status is RequestStatus.COMPLETED
    assert done.error_type == "runner_disconnected"
    assert await first.requeue_expired(before=float("inf")) == []


async def test_requeue_expired_with_no_upper_bound_takes_every_running_request(
    store: Store, clock: FakeClock
):
    rec = await store.enqueue("a/app", "", b"{}")
    assert await store.claim(["a/app"], "w1", lease_ttl=30) is not None
    assert await store.requeue_expired(before=float("inf")) == [rec.id]
    back = await store.get(rec.id)
    assert back is not None and back.status is RequestStatus.IN_QUEUE
