"""The handoff (openfal.store.handoff), run against every backend: a request submitted
while a taker of its app reserves a slot is stored claimed, leased to the taker, and
recovered like any claimed request when the taker's process dies."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from openfal.store import Priority, RequestRecord, RequestStatus, Store

from .conftest import FakeClock

APP = "acme/echo"


@dataclass
class Taker:
    worker_id: str = "w-local"
    lease_ttl: float = 10.0
    slots: int = 1
    hints: list[str | None] = field(default_factory=list)
    taken: list[tuple[RequestRecord, int]] = field(default_factory=list)
    released: list[int] = field(default_factory=list)
    held = 0

    def reserve(self, hint: str | None) -> int | None:
        self.hints.append(hint)
        if self.held >= self.slots:
            return None
        self.held += 1
        return self.held

    def take(self, rec: RequestRecord, slot: int) -> None:
        self.taken.append((rec, slot))

    def release(self, slot: int) -> None:
        self.held -= 1
        self.released.append(slot)


async def test_idle_taker_gets_the_request_claimed(store: Store, clock: FakeClock) -> None:
    taker = Taker()
    store.register_taker(APP, taker)
    rec = await store.enqueue(APP, "", b"{}", priority=Priority.HIGH, mode="run", hint="h1")
    assert taker.hints == ["h1"]
    assert [(r.id, slot) for r, slot in taker.taken] == [(rec.id, 1)]
    stored = await store.get(rec.id)
    assert stored is not None
    assert stored.status is RequestStatus.IN_PROGRESS
    assert (stored.worker_id, stored.attempts) == ("w-local", 1)
    assert stored.lease_expires == clock.t + 10 and stored.started_at == clock.t
    assert stored.seq > 0
    assert await store.in_progress(APP) == 1 and await store.queue_depth(APP) == 0
    # nothing is left in the queue for a claim
    assert await store.claim([APP], "w-other") is None
    # it completes like a claimed request
    done = await store.complete(rec.id, status_code=200, body=b"{}", worker_id="w-local")
    assert done is not None and done.is_done
    assert await store.wait_done(rec.id, 1.0) == done


async def test_full_taker_leaves_the_request_queued(store: Store) -> None:
    taker = Taker(slots=1)
    store.register_taker(APP, taker)
    first = await store.enqueue(APP, "", b"{}")
    second = await store.enqueue(APP, "", b"{}")
    assert [r.id for r, _ in taker.taken] == [first.id]
    queued = await store.get(second.id)
    assert queued is not None and queued.status is RequestStatus.IN_QUEUE
    assert queued.attempts == 0 and queued.worker_id is None
    claimed = await store.claim([APP], "w-other")
    assert claimed is not None and claimed.id == second.id


async def test_other_apps_and_unregistered_takers_are_not_used(store: Store) -> None:
    taker = Taker()
    store.register_taker(APP, taker)
    other = await store.enqueue("acme/other", "", b"{}")
    assert taker.hints == [] and other.status is RequestStatus.IN_QUEUE
    store.unregister_taker(APP, taker)
    rec = await store.enqueue(APP, "", b"{}")
    assert taker.taken == [] and rec.status is RequestStatus.IN_QUEUE


async def test_a_dead_takers_lease_expires_into_the_queue(store: Store, clock: FakeClock) -> None:
    """Its process died (kill -9): the record was durable, and housekeeping requeues it."""
    taker = Taker(lease_ttl=5)
    store.register_taker(APP, taker)
    rec = await store.enqueue(APP, "", b"{}")
    store.unregister_taker(APP, taker)
    clock.advance(6)
    assert await store.requeue_expired() == [rec.id]
    back = await store.get(rec.id)
    assert back is not None and back.status is RequestStatus.IN_QUEUE
    assert back.worker_id is None and back.attempts == 1
    again = await store.claim([APP], "w-other")
    assert again is not None and again.id == rec.id and again.attempts == 2
    assert await store.complete(rec.id, status_code=200, body=b"{}", worker_id="w-local") is None


async def test_a_failed_insert_gives_the_slot_back(store: Store) -> None:
    taker = Taker()
    store.register_taker(APP, taker)
    await store.enqueue(APP, "", b"{}", request_id="fixed")
    taker.held = 0  # the first request's job ended
    with pytest.raises(ValueError, match="already exists"):
        await store.enqueue(APP, "", b"{}", request_id="fixed")
    assert taker.released == [1] and taker.held == 0
    assert len(taker.taken) == 1
