"""The runner registry and cluster slots: one contract, every backend."""

from __future__ import annotations

import asyncio

import pytest

from openfal.store import RunnerInfo, SlotState, Store, WorkerInfo
from openfal.store import runners as runners_module
from openfal.store.runners import SessionCounts

from .conftest import FakeClock, StoreFactory


@pytest.fixture
def reg_clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(runners_module, "now", fake)
    return fake


def runner(n: int, app: str = "a/app", worker: str = "w1", **kw: object) -> RunnerInfo:
    return RunnerInfo(
        runner_id=f"r{n}",
        app_id=app,
        worker_id=worker,
        host="box",
        **kw,  # type: ignore[arg-type]
    )


async def test_acquire_holds_the_limit_then_release_frees_a_slot(store: Store, reg_clock):
    assert await store.acquire_runner(runner(1), limit=2, ttl=10)
    assert await store.acquire_runner(runner(2), limit=2, ttl=10)
    assert not await store.acquire_runner(runner(3), limit=2, ttl=10)
    assert await store.acquire_runner(runner(4, app="b/other"), limit=2, ttl=10)
    assert [r.runner_id for r in await store.list_runners("a/app")] == ["r1", "r2"]
    await store.release_runner("r1")
    assert await store.acquire_runner(runner(3), limit=2, ttl=10)
    assert {r.runner_id for r in await store.list_runners()} == {"r2", "r3", "r4"}


async def test_an_id_is_taken_once(store: Store, reg_clock):
    assert await store.acquire_runner(runner(1), limit=5, ttl=10)
    assert not await store.acquire_runner(runner(1), limit=5, ttl=10)


async def test_racing_acquires_from_two_stores_never_exceed_the_limit(
    make_store: StoreFactory, backend: str, reg_clock
):
    first = await make_store()
    second = first if backend == "memory" else await make_store()
    results = await asyncio.gather(
        *(
            (first if n % 2 else second).acquire_runner(runner(n), limit=3, ttl=10)
            for n in range(12)
        )
    )
    assert sum(results) == 3
    assert len(await second.list_runners("a/app")) == 3


async def test_expired_slots_free_themselves(store: Store, reg_clock):
    assert await store.acquire_runner(runner(1), limit=1, ttl=5)
    reg_clock.advance(4)
    assert not await store.acquire_runner(runner(2), limit=1, ttl=5)
    assert len(await store.list_runners("a/app")) == 1
    reg_clock.advance(2)  # r1 was last renewed 6 s ago: its worker is gone
    assert await store.list_runners("a/app") == []
    assert await store.acquire_runner(runner(2), limit=1, ttl=5)
    assert [r.runner_id for r in await store.list_runners()] == ["r2"]


async def test_heartbeat_renews_updates_and_reports_lost_runners(store: Store, reg_clock):
    assert await store.acquire_runner(runner(1), limit=5, ttl=5)
    assert await store.acquire_runner(runner(2), limit=5, ttl=5)
    assert await store.acquire_runner(runner(3), limit=5, ttl=5)
    await store.release_runner("r3")
    reg_clock.advance(4)
    ready = runner(1, state=SlotState.READY, in_flight=2, url="http://10.0.0.2:4000")
    lost = await store.heartbeat_runners([ready, runner(3)], ttl=5)
    assert lost == ["r3"]
    reg_clock.advance(3)  # r1 renewed 3 s ago, r2 never renewed: expired
    assert await store.heartbeat_runners([runner(2)], ttl=5) == ["r2"]
    (only,) = await store.list_runners()
    assert only.runner_id == "r1"
    assert (only.state, only.in_flight, only.url) == (SlotState.READY, 2, "http://10.0.0.2:4000")
    assert only.started_at == pytest.approx(reg_clock.t - 7)
    assert only.heartbeat_at == pytest.approx(reg_clock.t - 3)
    assert only.expires_at == pytest.approx(reg_clock.t + 2)
    assert await store.heartbeat_runners([], ttl=5) == []


async def test_retire_keeps_the_floor_and_stopping_runners_hold_their_slot(store: Store, reg_clock):
    for n in (1, 2, 3):
        assert await store.acquire_runner(runner(n), limit=3, ttl=10)
    assert await store.retire_runner("r1", keep=1)
    assert not await store.retire_runner("r1", keep=0)  # already stopping
    assert await store.retire_runner("r2", keep=1)
    assert not await store.retire_runner("r3", keep=1)  # the last active one stays
    states = {r.runner_id: r.state for r in await store.list_runners()}
    assert states == {"r1": SlotState.STOPPING, "r2": SlotState.STOPPING, "r3": SlotState.STARTING}
    assert not await store.acquire_runner(runner(4), limit=3, ttl=10)
    await store.release_runner("r1")
    assert await store.acquire_runner(runner(4), limit=3, ttl=10)
    assert not await store.retire_runner("missing", keep=0)


async def test_a_late_heartbeat_does_not_undo_a_retire(store: Store, reg_clock):
    for n in (1, 2):
        assert await store.acquire_runner(runner(n), limit=2, ttl=10)
    assert await store.retire_runner("r1", keep=1)
    assert await store.heartbeat_runners([runner(1, state=SlotState.READY)], ttl=10) == []
    states = {r.runner_id: r.state for r in await store.list_runners()}
    assert states == {"r1": SlotState.STOPPING, "r2": SlotState.STARTING}
    assert not await store.retire_runner("r2", keep=1)


async def test_racing_retires_never_go_below_keep(
    make_store: StoreFactory, backend: str, reg_clock
):
    first = await make_store()
    second = first if backend == "memory" else await make_store()
    for n in range(6):
        assert await first.acquire_runner(runner(n), limit=6, ttl=10)
    results = await asyncio.gather(
        *((first if n % 2 else second).retire_runner(f"r{n}", keep=2) for n in range(6))
    )
    assert sum(results) == 4
    active = [r for r in await second.list_runners() if r.state is not SlotState.STOPPING]
    assert len(active) == 2


async def test_purge_deletes_expired_runners_and_workers(store: Store, reg_clock):
    assert await store.acquire_runner(runner(1), limit=5, ttl=5)
    await store.heartbeat_worker(WorkerInfo(worker_id="w1", host="box"), ttl=5)
    reg_clock.advance(3)
    assert await store.acquire_runner(runner(2), limit=5, ttl=5)
    await store.heartbeat_worker(WorkerInfo(worker_id="w2", host="box"), ttl=5)
    reg_clock.advance(3)
    assert await store.purge_expired_runners() == 1
    reg_clock.t -= 100  # even if the clock went back, purged records stay gone
    assert [r.runner_id for r in await store.list_runners()] == ["r2"]
    assert [w.worker_id for w in await store.list_workers()] == ["w2"]


async def test_workers_advertise_their_capacity(store: Store, reg_clock):
    info = WorkerInfo(
        worker_id="w1", host="gpu-1", pid=42, apps=["a/app"], gpus=["0", "1"], free_gpus=["1"]
    )
    await store.heartbeat_worker(info, ttl=5)
    reg_clock.advance(2)
    await store.heartbeat_worker(WorkerInfo(worker_id="w2", host="gpu-2", draining=True), ttl=5)
    first, second = await store.list_workers()
    assert (first.worker_id, first.host, first.pid) == ("w1", "gpu-1", 42)
    assert (first.apps, first.gpus, first.free_gpus) == (["a/app"], ["0", "1"], ["1"])
    assert first.started_at == pytest.approx(reg_clock.t - 2)
    assert second.draining
    reg_clock.advance(4)
    assert [w.worker_id for w in await store.list_workers()] == ["w2"]
    await store.remove_worker("w2")
    assert await store.list_workers() == []


async def test_shared_secret_is_created_once_for_everyone(make_store: StoreFactory, backend: str):
    first = await make_store()
    second = first if backend == "memory" else await make_store()
    a, b = await asyncio.gather(first.shared_secret("upload"), second.shared_secret("upload"))
    assert a == b and len(a) == 32
    assert await first.shared_secret("other") != a


async def ready(store: Store, n: int, *, in_flight: int = 0, mux: int = 2, app: str = "a/app"):
    info = runner(n, app=app, state=SlotState.READY, in_flight=in_flight, max_multiplexing=mux)
    assert await store.acquire_runner(info, limit=10, ttl=10)
    assert await store.heartbeat_runners([info], ttl=10) == []


async def test_sessions_fill_free_multiplexing_slots_then_wait(store: Store, reg_clock):
    await ready(store, 1, in_flight=1, mux=2)  # one slot free
    await ready(store, 2, in_flight=0, mux=2)  # two free
    assert await store.acquire_runner(runner(3), limit=10, ttl=10)  # STARTING: not yet
    picks = [await store.open_session("a/app", f"s{i}", ttl=5) for i in range(4)]
    assert [p.runner_id if p else None for p in picks] == ["r2", "r1", "r2", None]
    counts = await store.session_counts("a/app")
    assert (counts.waiting, counts.by_runner, counts.total) == (1, {"r1": 1, "r2": 2}, 4)
    again = await store.open_session("a/app", "s0", ttl=5)  # the same session: the same runner
    assert again is not None and again.runner_id == "r2"
    await store.close_session("s0")
    retry = await store.open_session("a/app", "s3", ttl=5)  # the waiting one gets the slot
    assert retry is not None and retry.runner_id == "r2"
    assert (await store.session_counts("a/app")).waiting == 0


async def test_sessions_expire_and_die_with_their_runner(store: Store, reg_clock):
    await ready(store, 1, mux=4)
    assert await store.open_session("a/app", "kept", ttl=5) is not None
    assert await store.open_session("a/app", "dropped", ttl=5) is not None
    reg_clock.advance(4)
    assert await store.renew_session("kept", ttl=5)
    reg_clock.advance(2)  # "dropped" was not renewed: its gateway is gone
    assert not await store.renew_session("dropped", ttl=5)
    assert (await store.session_counts("a/app")).by_runner == {"r1": 1}
    await store.release_runner("r1")  # the runner went away under its session
    assert not await store.renew_session("kept", ttl=5)
    assert await store.session_counts("a/app") == SessionCounts()
    waiting = await store.open_session("a/app", "w", ttl=5)
    assert waiting is None and (await store.session_counts("a/app")).waiting == 1
    reg_clock.advance(6)
    assert (await store.session_counts("a/app")).total == 0
    await store.purge_expired_runners()


async def test_racing_sessions_from_two_stores_never_overfill_a_runner(
    make_store: StoreFactory, backend: str, reg_clock
):
    first = await make_store()
    second = first if backend == "memory" else await make_store()
    await ready(first, 1, mux=3)
    got = await asyncio.gather(
        *((first if i % 2 else second).open_session("a/app", f"s{i}", ttl=5) for i in range(8))
    )
    assert sum(g is not None for g in got) == 3
    assert (await second.session_counts("a/app")).waiting == 5
