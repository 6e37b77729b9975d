"""The scale loop of a settled app: it waits for wake-ups instead of polling the store,
and still acts on time (keep_alive), on queued work and on waiting realtime sessions."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from openfal.store import AppRecord, RunnerInfo, SlotState
from openfal.store.memory import MemoryStore
from openfal.worker.runner_process import RunnerProcess, RunnerState
from openfal.worker.supervisor import PoolContext, Supervisor

APP = "a/app"


class CountingStore(MemoryStore):
    """Counts scaling decisions (each reads the queue depth once)."""

    def __init__(self) -> None:
        super().__init__()
        self.decisions = 0

    async def queue_depth(self, app_id: str) -> int:
        self.decisions += 1
        return await super().queue_depth(app_id)


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def pool(
    settings: dict[str, object], endpoints: dict[str, object] | None = None
) -> AsyncIterator[tuple[CountingStore, Supervisor, RunnerProcess]]:
    """A supervisor of APP with one READY runner (no process behind it) whose slot is in
    the store; only its scale loop runs."""
    store = CountingStore()
    await store.open()
    async with httpx.AsyncClient() as http:
        ctx = PoolContext(store=store, http=http, worker_id="w1", host="h", lease_ttl=30)
        app = AppRecord(APP, "x.py::App", settings=settings, endpoints=endpoints or {"": {}})
        sup = Supervisor(app, ctx, tick=0.01)
        runner = RunnerProcess(app_id=APP, app_ref="x.py::App", state=RunnerState.READY)
        sup.runners.append(runner)
        info = RunnerInfo(runner.id, APP, "w1", "h", state=SlotState.READY)
        assert await store.acquire_runner(info, limit=1, ttl=30)
        loop = asyncio.create_task(sup._scale_loop())
        try:
            yield store, sup, runner
        finally:
            sup.accepting = False
            sup.poke()
            await asyncio.wait_for(loop, 5)
            await store.close()


async def test_an_idle_runner_inside_keep_alive_is_not_polled_for():
    async with pool({"keep_alive": 600}) as (_, sup, _):
        # more runners than needed (1 vs 0), but none can stop before keep_alive ends:
        # the next decision waits for a wake-up, at most settled_wait (10 lease TTLs)
        assert await sup.rescale() == pytest.approx(300)
        sup.ctx.settled_wait = 1000
        assert 590 < await sup.rescale() <= 600


async def test_queued_work_and_pokes_wake_a_settled_app():
    async with pool({"keep_alive": 600}) as (store, sup, _):
        await eventually(lambda: store.decisions >= 1)
        seen = store.decisions
        await store.enqueue(APP, "", b"{}")
        await eventually(lambda: store.decisions > seen)
        seen = store.decisions
        sup.poke()
        await eventually(lambda: store.decisions > seen)


async def test_an_idle_runner_stops_when_keep_alive_ends():
    async with pool({"keep_alive": 0.3}) as (store, _, runner):
        started = time.monotonic()
        runner.last_used = started
        await eventually(lambda: runner.state is RunnerState.DEAD)
        assert time.monotonic() - started >= 0.3
        [slot] = await store.list_runners(APP)
        assert slot.state is SlotState.STOPPING


@pytest.mark.parametrize("announced", [True, False])
async def test_a_realtime_session_waiting_for_a_runner_wakes_the_app(announced: bool):
    endpoints = {"realtime": {"websocket": True}}
    async with pool({"keep_alive": 600, "max_multiplexing": 1}, endpoints) as (store, sup, r):
        store.announces_waiting_sessions = announced
        if not announced:  # as if another process opened it: no wake-up, polled instead
            store._session_waiting = lambda app_id: None  # type: ignore[method-assign]
        r.in_flight = 1  # the only runner is full: a session has to wait
        await store.heartbeat_runners([sup.info(r)], 30)
        await eventually(lambda: store.decisions >= 1)
        seen = store.decisions
        assert await store.open_session(APP, "s1", 30) is None
        # at once when announced; within SESSION_POLL (3 s) otherwise
        await eventually(lambda: store.decisions > seen, timeout=10)
