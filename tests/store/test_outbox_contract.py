"""The webhook outbox, against every backend."""

from __future__ import annotations

import asyncio

import pytest

from openfal.store import Store, WebhookState

from .conftest import FakeClock, StoreFactory

APP = "acme/flux"
HOOK = "https://hooks.example.com/done"


def attempt(status: int | None, at: float = 0.0) -> dict[str, object]:
    return {"at": at, "status_code": status, "error": None, "duration": 0.01}


async def test_a_webhook_waits_for_its_request_then_is_due(store: Store, clock: FakeClock) -> None:
    rec = await store.enqueue(APP, "", b"{}", owner="alice", webhook_url=HOOK)
    wh = await store.get_webhook(rec.id)
    assert wh is not None
    assert (wh.url, wh.user, wh.state, wh.attempts) == (HOOK, "alice", WebhookState.WAITING, ())
    assert await store.claim_webhooks("s1") == []  # not before the request completes
    clock.advance(2)
    await store.complete(rec.id, status_code=200, body=b'{"ok": true}')
    wh = await store.get_webhook(rec.id)
    assert wh is not None and wh.state is WebhookState.PENDING and wh.next_at == clock.t
    assert (await store.enqueue(APP, "", b"{}")).webhook_url is None
    assert await store.get_webhook("no-such-request") is None


async def test_claim_lease_retry_and_delivery(store: Store, clock: FakeClock) -> None:
    rec = await store.enqueue(APP, "", b"{}", webhook_url=HOOK)
    await store.fail(rec.id, 503, "no runner", "runner_scheduling_failure")
    [claimed] = await store.claim_webhooks("s1", lease_ttl=60)
    assert claimed.lease_owner == "s1" and claimed.request_id == rec.id
    assert await store.claim_webhooks("s2") == []  # leased
    failed = await store.record_webhook_attempt(
        rec.id, "s1", attempt(500, clock.t), body=b"{}", delivered=False, retry_at=clock.t + 10
    )
    assert failed is not None and failed.state is WebhookState.PENDING
    assert (failed.next_at, failed.lease_owner, failed.body) == (clock.t + 10, None, b"{}")
    assert await store.claim_webhooks("s2") == []  # not due yet
    clock.advance(10)
    [again] = await store.claim_webhooks("s2")
    assert again.attempts == (attempt(500, clock.t - 10),)
    done = await store.record_webhook_attempt(
        rec.id, "s2", attempt(200, clock.t), body=b"{}", delivered=True, retry_at=None
    )
    assert done is not None and done.state is WebhookState.DELIVERED
    assert [a["status_code"] for a in done.attempts] == [500, 200]
    assert await store.claim_webhooks("s1") == []


async def test_only_the_lease_holder_records(store: Store, clock: FakeClock) -> None:
    rec = await store.enqueue(APP, "", b"{}", webhook_url=HOOK)
    await store.complete(rec.id, status_code=200, body=b"{}")
    await store.claim_webhooks("s1", lease_ttl=30)
    assert (
        await store.record_webhook_attempt(
            rec.id, "s2", attempt(200), body=b"{}", delivered=True, retry_at=None
        )
        is None
    )
    clock.advance(31)  # s1 died: its lease ran out, s2 takes over
    [taken] = await store.claim_webhooks("s2")
    assert taken.lease_owner == "s2"
    late = await store.record_webhook_attempt(
        rec.id, "s1", attempt(200), body=b"{}", delivered=True, retry_at=None
    )
    assert late is None


async def test_giving_up_records_why(store: Store) -> None:
    rec = await store.enqueue(APP, "", b"{}", webhook_url=HOOK)
    await store.complete(rec.id, status_code=200, body=b"{}")
    await store.claim_webhooks("s1")
    wh = await store.record_webhook_attempt(
        rec.id,
        "s1",
        attempt(None),
        body=b"{}",
        delivered=False,
        retry_at=None,
        error="gave up after 1 attempt",
    )
    assert wh is not None and wh.state is WebhookState.FAILED
    assert wh.error == "gave up after 1 attempt" and wh.next_at is None


async def test_release_leases_makes_them_due_now(store: Store, clock: FakeClock) -> None:
    rec = await store.enqueue(APP, "", b"{}", webhook_url=HOOK)
    await store.cancel(rec.id)  # a cancelled request gets its (ERROR) webhook too
    await store.claim_webhooks("dead", lease_ttl=600)
    assert await store.release_webhook_leases() == 1
    [again] = await store.claim_webhooks("s1")
    assert again.lease_owner == "s1"


async def test_promote_catches_completions_that_were_not_marked(
    store: Store, clock: FakeClock
) -> None:
    rec = await store.enqueue(APP, "", b"{}")
    await store.complete(rec.id, status_code=200, body=b"{}")
    await store.add_webhook(rec.id, HOOK, None)  # as if the process died before marking it
    await store.add_webhook("vanished", HOOK, None)
    assert await store.promote_webhooks(grace=300) == 1
    wh = await store.get_webhook(rec.id)
    assert wh is not None and wh.state is WebhookState.PENDING
    clock.advance(301)
    assert await store.promote_webhooks(grace=300) == 1
    gone = await store.get_webhook("vanished")
    assert gone is not None and gone.state is WebhookState.FAILED and gone.error


async def test_a_refused_duplicate_leaves_no_webhook_behind(store: Store, clock: FakeClock) -> None:
    first = await store.enqueue(APP, "", b"{}", request_id="r2")  # no webhook of its own
    with pytest.raises(ValueError):
        await store.enqueue(APP, "", b"{}", webhook_url=HOOK, request_id="r2")
    assert await store.get_webhook("r2") is None
    await store.complete(first.id, status_code=200, body=b"{}")
    clock.advance(600)
    assert await store.promote_webhooks() == 0  # nothing to deliver to the refused URL
    assert await store.claim_webhooks("s1") == []


async def test_a_duplicate_request_id_keeps_the_first_webhook(store: Store) -> None:
    await store.enqueue(APP, "", b"{}", webhook_url=HOOK, request_id="r1")
    with pytest.raises(ValueError):
        await store.enqueue(
            APP, "", b"{}", webhook_url="https://other.example.com/", request_id="r1"
        )
    wh = await store.get_webhook("r1")
    assert wh is not None and wh.url == HOOK


async def test_finished_webhooks_are_purged_with_their_requests(
    make_store: StoreFactory, clock: FakeClock
) -> None:
    store = await make_store(retention=100)
    rec = await store.enqueue(APP, "", b"{}", webhook_url=HOOK)
    pending = await store.enqueue(APP, "", b"{}", webhook_url=HOOK)
    await store.complete(rec.id, status_code=200, body=b"{}")
    await store.complete(pending.id, status_code=200, body=b"{}")
    [first, _] = await store.claim_webhooks("s1")
    await store.record_webhook_attempt(
        first.request_id, "s1", attempt(200), body=b"{}", delivered=True, retry_at=None
    )
    clock.advance(101)
    await store.purge_completed()
    assert await store.get_webhook(first.request_id) is None
    assert await store.get_webhook(pending.id if first.request_id == rec.id else rec.id)


async def test_each_webhook_is_claimed_by_one_sender(make_store: StoreFactory) -> None:
    a, b = await make_store(), await make_store()
    for _ in range(12):
        rec = await a.enqueue(APP, "", b"{}", webhook_url=HOOK)
        await a.complete(rec.id, status_code=200, body=b"{}")
    batches = await asyncio.gather(
        *(s.claim_webhooks(name, limit=3) for _ in range(4) for name, s in (("a", a), ("b", b)))
    )
    claimed = [d.request_id for batch in batches for d in batch]
    assert len(claimed) == 12 and len(set(claimed)) == 12


async def test_wait_for_webhooks_wakes_on_completion(store: Store) -> None:
    rec = await store.enqueue(APP, "", b"{}", webhook_url=HOOK)
    waiter = asyncio.create_task(store.wait_for_webhooks(30))
    await asyncio.sleep(0)
    await store.complete(rec.id, status_code=200, body=b"{}")
    await asyncio.wait_for(waiter, 10)
