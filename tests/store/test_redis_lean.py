"""The Redis store's two savings of issue 14 that trade a read for knowledge:

- dev mode's "does any key exist?" is answered from memory while the ``keys`` channel is
  subscribed, and a key's creator returns only once every listening process heard of it;
- an insert under a minted id (a random UUID) checks nothing but its own listing entry,
  so a retried insert (reply lost) succeeds once; an id a caller named is looked up.

Two RedisStore objects on one server stand for two processes (conftest.redis_stores).
"""

from __future__ import annotations

import asyncio
import logging

import pytest
import redis.asyncio as aioredis

from openfal.store import RequestStatus, Store
from openfal.store.redis import RedisStore
from openfal.store.redis import auth as redis_auth

APP = "acme/app"


async def calls(raw: aioredis.Redis) -> dict[str, int]:
    stats = await raw.info("commandstats")
    return {k.removeprefix("cmdstat_"): v["calls"] for k, v in stats.items() if k != "cmdstat_info"}


async def spent(raw: aioredis.Redis, before: dict[str, int]) -> dict[str, int]:
    after = await calls(raw)
    return {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}


async def test_no_key_is_answered_from_memory(
    redis_stores: list[Store], redis_raw: aioredis.Redis
) -> None:
    a, _ = redis_stores
    assert await a.has_keys() is False  # subscribes, then one HLEN
    before = await calls(redis_raw)
    for _ in range(20):
        assert await a.has_keys() is False
    assert await spent(redis_raw, before) == {}


async def test_a_key_made_elsewhere_counts_once_its_creation_returns(
    redis_stores: list[Store],
) -> None:
    a, b = redis_stores
    assert await a.has_keys() is False and await b.has_keys() is False
    third = RedisStore(a.url, prefix=a.prefix)  # type: ignore[attr-defined]
    await third.open()
    try:
        await third.create_key("ops")
        # no wait: the creator returned after both listeners acknowledged
        assert await a.has_keys() is True and await b.has_keys() is True
    finally:
        await third.close()


async def test_a_listener_that_never_acknowledges_delays_the_creator_only_so_long(
    redis_stores: list[Store],
    redis_raw: aioredis.Redis,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    a, b = redis_stores
    monkeypatch.setattr(redis_auth, "ACK_WAIT", 0.3)
    mute = redis_raw.pubsub()
    await mute.subscribe(a.prefix + "keys")  # type: ignore[attr-defined]
    try:
        assert await a.has_keys() is False
        with caplog.at_level(logging.WARNING, logger="openfal.store.redis.auth"):
            await b.create_key("ops")
        assert await a.has_keys() is True  # the one that listens did acknowledge
        assert "1 of 2 processes acknowledged" in caplog.text
    finally:
        await mute.aclose()


async def test_a_broken_subscription_asks_the_server_again(
    redis_stores: list[Store], redis_raw: aioredis.Redis
) -> None:
    a, b = redis_stores
    assert isinstance(a, RedisStore) and isinstance(b, RedisStore)
    assert await a.has_keys() is False
    hub = a._hub
    assert hub is not None
    epoch = hub.epoch
    # a's subscription dies; a key is created meanwhile (nobody left to tell)
    await redis_raw.client_kill_filter(_type="pubsub")
    await redis_raw.hset(b._k("keys"), "k", b"{}")
    while hub.epoch == epoch:  # the reader notices the break
        await asyncio.sleep(0.01)
    assert await a.has_keys() is True


async def test_a_retried_insert_of_a_minted_id_succeeds_once(
    redis_stores: list[Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _ = redis_stores
    assert isinstance(a, RedisStore)
    monkeypatch.setattr(a, "_next_seq", lambda: 4242)  # the retry sends what the first did
    rec = await a.enqueue(APP, "", b"{}", request_id="minted-1", minted=True)
    claimed = await a.claim([APP], "w")
    assert claimed is not None and claimed.id == rec.id
    again = await a.enqueue(APP, "", b"{}", request_id="minted-1", minted=True)
    assert again.id == rec.id
    seen = await a.get(rec.id)  # the retry changed nothing: still claimed by w
    assert seen is not None and seen.status is RequestStatus.IN_PROGRESS
    assert seen.worker_id == "w"


async def test_a_named_id_is_checked_and_its_own_retry_passes(
    redis_stores: list[Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = redis_stores
    assert isinstance(a, RedisStore)
    monkeypatch.setattr(a, "_next_seq", lambda: 777)
    await a.enqueue(APP, "", b"{}", request_id="named-1")
    await a.enqueue(APP, "", b"{}", request_id="named-1")  # the same insert again: fine
    with pytest.raises(ValueError, match="already exists"):
        await b.enqueue(APP, "", b"{}", request_id="named-1")  # another request


async def test_a_status_read_may_be_answered_by_the_copy_held_here(
    redis_stores: list[Store], redis_raw: aioredis.Redis
) -> None:
    a, b = redis_stores
    rec = await a.enqueue(APP, "", b"{}")  # a wrote it: a holds it and is told of changes
    before = await calls(redis_raw)
    held = await a.get(rec.id, may_lag=True)
    assert held is not None and held.status is RequestStatus.IN_QUEUE
    assert await spent(redis_raw, before) == {}
    before = await calls(redis_raw)
    assert await a.get(rec.id) == held  # without may_lag: asks the server
    assert (await spent(redis_raw, before)).get("hgetall") == 1

    claimed = await b.claim([APP], "w-b")  # elsewhere: announced to a
    assert claimed is not None and claimed.id == rec.id
    fresh = await a.get(rec.id)  # a fresh read sees it whether or not a heard yet
    assert fresh is not None and fresh.status is RequestStatus.IN_PROGRESS
    # a lagging read returns the copy at most until the announcement arrives
    seen = await a.get(rec.id, may_lag=True)
    while seen is not None and seen.status is RequestStatus.IN_QUEUE:
        assert await a.wait_for_change(rec.id, 10)  # returns at once once it was heard
        seen = await a.get(rec.id, may_lag=True)
    assert seen is not None and seen.status is RequestStatus.IN_PROGRESS
    assert seen.worker_id == "w-b"


async def test_a_copy_is_not_used_after_the_subscription_broke(
    redis_stores: list[Store], redis_raw: aioredis.Redis
) -> None:
    a, _ = redis_stores
    assert isinstance(a, RedisStore)
    rec = await a.enqueue(APP, "", b"{}")
    hub = a._hub
    assert hub is not None
    epoch = hub.epoch
    await redis_raw.client_kill_filter(_type="pubsub")
    while hub.epoch == epoch:
        await asyncio.sleep(0.01)
    before = await calls(redis_raw)
    assert await a.get(rec.id, may_lag=True) is not None
    assert (await spent(redis_raw, before)).get("hgetall") == 1
