"""Per-user limits: a burst, then 429 with retry_after; concurrency; overrides; two gateways."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from openfal.gateway.auth import AuthSettings
from openfal.store.sqlite import SQLiteStore

from .conftest import ECHO, Gateway, GatewayFactory


def assert_rate_limited(r: httpx.Response) -> int:
    assert r.status_code == 429, r.text
    body = r.json()
    assert body["detail"] == "Rate limit exceeded"
    assert body == {
        "detail": "Rate limit exceeded",
        "error_type": "rate_limited",
        "retry_after": body["retry_after"],
    }
    assert isinstance(body["retry_after"], int) and body["retry_after"] >= 1
    assert r.headers["retry-after"] == str(body["retry_after"])
    assert r.headers["x-fal-error-type"] == "rate_limited"
    assert r.headers["x-fal-request-id"]
    return int(body["retry_after"])


async def post(gw: Gateway, headers: dict[str, str]) -> httpx.Response:
    return await gw.client.post(f"/queue/{ECHO}", json={"message": "hi"}, headers=headers)


async def test_429_after_the_burst_then_success_after_retry_after(
    make_gateway: GatewayFactory,
) -> None:
    gw = await make_gateway(auth=AuthSettings(rate_limit=3, rate_window=3.0))
    alice = await gw.key("alice", "alice")
    bob = await gw.key("bob", "bob")
    for _ in range(3):
        assert (await post(gw, alice)).status_code == 200
    retry_after = assert_rate_limited(await post(gw, alice))
    assert retry_after == 1  # 3 per 3 s: one more each second
    assert (await post(gw, bob)).status_code == 200  # limits are per user
    await asyncio.sleep(retry_after)  # the wait the answer asked for
    assert (await post(gw, alice)).status_code == 200
    assert len(await gw.store.list_requests(owner="alice")) == 4  # refused ones were not queued


async def test_max_concurrent_counts_queued_and_running(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(auth=AuthSettings(max_concurrent=2))
    alice = await gw.key("alice", "alice")
    first = (await post(gw, alice)).json()
    running = await gw.store.claim([ECHO], "w")
    assert running is not None and running.id == first["request_id"]
    assert (await post(gw, alice)).status_code == 200
    assert assert_rate_limited(await post(gw, alice)) == 1
    await gw.finish(first["request_id"])
    assert (await post(gw, alice)).status_code == 200


async def test_a_keys_own_limits_override_the_servers(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(auth=AuthSettings(rate_limit=100, max_concurrent=100))
    strict = await gw.key("strict", "carol", rate_limit=1)
    assert (await post(gw, strict)).status_code == 200
    assert_rate_limited(await post(gw, strict))
    narrow = await gw.key("narrow", "dave", max_concurrent=1)
    assert (await post(gw, narrow)).status_code == 200
    assert_rate_limited(await post(gw, narrow))


async def test_a_request_refused_for_its_rate_gives_its_slot_back(
    make_gateway: GatewayFactory,
) -> None:
    gw = await make_gateway(auth=AuthSettings(rate_limit=1, rate_window=60, max_concurrent=5))
    alice = await gw.key("alice", "alice")
    assert (await post(gw, alice)).status_code == 200
    for _ in range(3):
        assert_rate_limited(await post(gw, alice))
    assert len(await gw.store.active_slots("alice")) == 1


async def test_limits_hold_across_two_gateways_sharing_a_store(
    make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    stores = [SQLiteStore(str(tmp_path / "shared.db")) for _ in range(2)]
    for s in stores:
        await s.open()
    try:
        limits = AuthSettings(rate_limit=4, rate_window=600)
        one = await make_gateway(store=stores[0], auth=limits)
        two = await make_gateway(store=stores[1], auth=AuthSettings(rate_limit=4, rate_window=600))
        headers = await one.key("alice", "alice")  # made on one, used on both
        answers = await asyncio.gather(*(post(gw, headers) for gw in (one, two) * 4))
        assert sorted(r.status_code for r in answers) == [200] * 4 + [429] * 4
    finally:
        for s in stores:
            await s.close()


async def test_dev_mode_callers_share_the_anonymous_limits(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(auth=AuthSettings(rate_limit=1, rate_window=60))
    assert (await post(gw, {})).status_code == 200
    assert_rate_limited(await post(gw, {}))
