"""Keys, rate buckets, concurrency slots and file owners, against every backend."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from openfal.store import KeyScope, Store
from openfal.store.auth import check_secret, hash_secret

from .conftest import FakeClock, StoreFactory

APP = "acme/flux"


async def test_a_key_authenticates_with_its_secret_only(store: Store) -> None:
    key, secret = await store.create_key("alice", KeyScope.ADMIN, description="laptop")
    assert (key.user, key.scope, key.description) == ("alice", KeyScope.ADMIN, "laptop")
    assert len(secret) == 64 and key.id
    found = await store.authenticate(key.id, secret)
    assert found is not None and found.id == key.id and found.scope is KeyScope.ADMIN
    assert (
        await store.authenticate(key.id, secret[:-1] + ("0" if secret[-1] != "0" else "1")) is None
    )
    assert await store.authenticate(key.id, "") is None
    assert await store.authenticate("no-such-key", secret) is None
    # verified once (remembered), still refused with a wrong secret afterwards
    assert await store.authenticate(key.id, secret) is not None
    assert await store.authenticate(key.id, "wrong") is None


async def test_the_secret_is_stored_only_as_a_slow_hash(
    store: Store, backend: str, tmp_path: Path
) -> None:
    key, secret = await store.create_key("alice")
    stored = await store.get_key(key.id)
    assert stored is not None
    assert stored.secret_hash.startswith("scrypt$16384$8$1$")
    assert secret not in stored.secret_hash and secret not in repr(stored)
    assert secret not in json.dumps([k.public() for k in await store.list_keys()])
    if backend == "sqlite":
        await store.close()  # the file (and its WAL) hold no clear secret
        files = list((tmp_path / "db").iterdir())
        assert files and not any(secret.encode() in f.read_bytes() for f in files)


def test_hash_and_check_are_salted_and_exact() -> None:
    a, b = hash_secret("s3cret"), hash_secret("s3cret")
    assert a != b  # salted
    assert check_secret("s3cret", a) and check_secret("s3cret", b)
    assert not check_secret("s3cret!", a)
    assert not check_secret("s3cret", "md5$whatever")
    assert not check_secret("s3cret", "garbage")


async def test_a_new_key_works_at_once_in_another_process_and_revocation_too(
    make_store: StoreFactory, backend: str
) -> None:
    cli = await make_store()
    gateway = await make_store() if backend != "memory" else cli
    assert not await gateway.has_keys()
    key, secret = await cli.create_key("bob")
    assert await gateway.has_keys()
    assert await gateway.authenticate(key.id, secret) is not None  # no cache to wait out
    assert await cli.revoke_key(key.id)
    assert await gateway.authenticate(key.id, secret) is None  # even though it was verified
    assert not await cli.revoke_key(key.id)
    assert not await cli.revoke_key("no-such-key")
    assert await gateway.has_keys()  # revoked keys still mean "auth is on"
    revoked = await gateway.get_key(key.id)
    assert revoked is not None and revoked.revoked and revoked.revoked_at is not None


async def test_list_keys_oldest_first_and_by_user(store: Store, clock: FakeClock) -> None:
    a, _ = await store.create_key("alice", rate_limit=5, max_concurrent=2)
    clock.advance(1)
    b, _ = await store.create_key("bob")
    clock.advance(1)
    c, _ = await store.create_key("alice", KeyScope.ADMIN)
    assert [k.id for k in await store.list_keys()] == [a.id, b.id, c.id]
    assert [k.id for k in await store.list_keys(user="alice")] == [a.id, c.id]
    first = (await store.list_keys())[0]
    assert (first.rate_limit, first.max_concurrent, first.created_at) == (5, 2, clock.t - 2)
    assert first.public()["key_id"] == a.id and "secret_hash" not in first.public()


@pytest.mark.parametrize("user", ["", "  ", "a:b", "a\nb"])
async def test_create_key_refuses_bad_user_names(store: Store, user: str) -> None:
    with pytest.raises(ValueError, match="invalid user name"):
        await store.create_key(user)


async def test_create_key_refuses_limits_below_one(store: Store) -> None:
    with pytest.raises(ValueError, match="rate_limit"):
        await store.create_key("alice", rate_limit=0)
    with pytest.raises(ValueError, match="max_concurrent"):
        await store.create_key("alice", max_concurrent=0)


# ---------------------------------------------------------------------- rate buckets


async def test_token_bucket_burst_then_refill(store: Store, clock: FakeClock) -> None:
    waits = [await store.take_rate_token("alice", 3, 3.0) for _ in range(4)]
    assert waits[:3] == [0.0, 0.0, 0.0]
    assert waits[3] == pytest.approx(1.0)  # one token per second
    clock.advance(0.5)
    assert await store.take_rate_token("alice", 3, 3.0) == pytest.approx(0.5)
    clock.advance(0.5)
    assert await store.take_rate_token("alice", 3, 3.0) == 0.0
    assert await store.take_rate_token("bob", 3, 3.0) == 0.0  # buckets are per key
    clock.advance(100)  # refills up to the limit, not beyond
    assert [await store.take_rate_token("alice", 3, 3.0) for _ in range(4)][3] > 0


async def test_token_bucket_is_atomic_across_processes(
    make_store: StoreFactory, backend: str, clock: FakeClock
) -> None:
    a = await make_store()
    b = await make_store() if backend != "memory" else a
    waits = await asyncio.gather(
        *(s.take_rate_token("carol", 5, 60.0) for _ in range(10) for s in (a, b))
    )
    assert sum(1 for w in waits if w == 0.0) == 5


async def test_rate_limit_arguments_are_checked(store: Store) -> None:
    with pytest.raises(ValueError):
        await store.take_rate_token("alice", 0, 1.0)
    with pytest.raises(ValueError):
        await store.take_rate_token("alice", 1, 0.0)


# ---------------------------------------------------------------------- concurrency slots


async def test_slots_cap_active_requests_and_free_on_completion(store: Store) -> None:
    ids = [(await store.enqueue(APP, "", b"{}", owner="alice")).id for _ in range(3)]
    assert await store.acquire_slot("alice", ids[0], 2)
    assert await store.acquire_slot("alice", ids[1], 2)
    assert await store.acquire_slot("alice", ids[1], 2)  # already held: still fine
    assert not await store.acquire_slot("alice", ids[2], 2)
    assert await store.acquire_slot("bob", ids[2], 2)  # per user
    await store.complete(ids[0], status_code=200, body=b"{}")
    assert await store.acquire_slot("alice", ids[2], 2)  # the completed one was dropped
    assert sorted(await store.active_slots("alice")) == sorted(ids[1:])
    await store.release_slot("alice", ids[1])
    assert await store.active_slots("alice") == [ids[2]]


async def test_a_slot_of_a_request_that_never_appeared_expires(
    store: Store, clock: FakeClock
) -> None:
    assert await store.acquire_slot("alice", "ghost", 1, grace=60)
    assert not await store.acquire_slot("alice", "other", 1, grace=60)
    clock.advance(61)
    assert await store.acquire_slot("alice", "other", 1, grace=60)


async def test_slots_are_atomic_across_processes(make_store: StoreFactory, backend: str) -> None:
    a = await make_store()
    b = await make_store() if backend != "memory" else a
    taken = await asyncio.gather(
        *(s.acquire_slot("dave", f"r{i}-{n}", 3) for i in range(6) for n, s in enumerate((a, b)))
    )
    assert sum(taken) == 3


# ---------------------------------------------------------------------- file owners


async def test_file_owners(make_store: StoreFactory, backend: str) -> None:
    a = await make_store()
    b = await make_store() if backend != "memory" else a
    assert await b.get_file_owner("k/one.png") is None
    await a.set_file_owner("k/one.png", "alice")
    assert await b.get_file_owner("k/one.png") == "alice"
