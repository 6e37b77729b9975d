"""The supervisor of one app: how many runners, which one is free, their lifecycle.

Scaling is decided for the whole cluster: demand is the app's queue depth plus its
requests in progress anywhere, and a runner starts only after the store granted it a
slot (:meth:`Store.acquire_runner`, at most ``runners_needed(demand)`` cluster-wide,
never more than ``max_concurrency``). An idle runner stops only if the store agrees
that enough others stay (:meth:`Store.retire_runner`). Slots are leases the worker
renews, so a dead worker's slots free themselves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx

from openfal.store import AppRecord, RunnerInfo, SlotState, Store
from openfal.worker.dispatcher import Dispatcher
from openfal.worker.gpus import GpuPool, gpus_needed
from openfal.worker.job import DispatchConfig
from openfal.worker.launch import Launcher, plain_launch
from openfal.worker.runner_process import (
    RunnerProcess,
    RunnerStartError,
    RunnerState,
    free_port,
)
from openfal.worker.scaling import ScalingSettings

log = logging.getLogger("openfal.worker")

MAX_START_FAILURES = 3  # consecutive failed starts before queued requests are failed
RESCALE_EVERY = 0.05  # seconds between two scaling decisions, at least
# seconds between decisions of an app with work (queued or running anywhere) or with
# sessions of other gateways on its runners: not every change is announced then (a runner
# dying elsewhere frees its slot only when the slot expires; a session's end)
BUSY_TICK = 2.0
# seconds between looks for sessions waiting in other gateways, on a store that does not
# announce them (Store.announces_waiting_sessions), for apps with a websocket endpoint
# (other apps look every lease TTL)
SESSION_POLL = 3.0


_SLOT_STATES = {
    RunnerState.STARTING: SlotState.STARTING,
    RunnerState.READY: SlotState.READY,
    RunnerState.STOPPING: SlotState.STOPPING,
    RunnerState.DEAD: SlotState.STOPPING,
}


@dataclass
class PoolContext:
    """What every supervisor of one worker shares."""

    store: Store
    http: httpx.AsyncClient
    worker_id: str
    host: str  # this machine's name, shown in runner listings
    lease_ttl: float = 30.0  # request leases and runner slots
    # the longest a settled app waits for a wake-up before it looks at the store again
    # (see Supervisor.rescale); None: ten lease TTLs
    settled_wait: float | None = None
    cancel_grace: float = 1.0
    env: dict[str, str] = field(default_factory=dict)
    gpus: GpuPool = field(default_factory=lambda: GpuPool(None))
    runner_host: str = "127.0.0.1"  # the address runners bind
    advertise_host: str | None = None  # the address gateways reach runners at
    launch: Launcher = plain_launch  # interpreter, code and extra env of an app's runners
    on_output: Callable[[RunnerProcess, str, str], None] | None = None  # runners' output


class Supervisor:
    """Runners of one app on this worker: how many, their lifecycle, which one is free.

    Its :class:`~openfal.worker.dispatcher.Dispatcher` feeds them requests.
    """

    def __init__(self, app: AppRecord, ctx: PoolContext, *, tick: float = 0.25) -> None:
        self.app = app
        self.scaling = ScalingSettings.from_settings(app.settings)
        self.ctx = ctx
        self.store, self.http, self.worker_id = ctx.store, ctx.http, ctx.worker_id
        self.dispatch_cfg = DispatchConfig(
            lease_ttl=ctx.lease_ttl,
            cancel_grace=ctx.cancel_grace,
            request_timeout=self.scaling.request_timeout,
        )
        self.gpus_per_runner = gpus_needed(app.settings)
        self.tick = tick
        self.runners: list[RunnerProcess] = []
        self._background: set[asyncio.Task[None]] = set()  # runner boots and stops
        self.slot = asyncio.Event()  # a runner became ready or a slot was freed
        self._poked = asyncio.Event()  # something local changed: decide the scale again now
        self._tasks: list[asyncio.Task[None]] = []
        self.accepting = True
        self._start_failures = 0
        self._next_start_at = 0.0
        self._pending_since: float | None = None
        # realtime sessions that gateways elsewhere attached to our runners through the
        # store (StoreBroker; read each rescale): they hold multiplexing slots like requests
        self.sessions: dict[str, int] = {}
        # realtime sessions of this process's own gateway (LocalBroker, ``openfal serve``)
        self.waiting_sessions = 0  # waiting for a runner slot
        self.active_sessions = 0  # holding one (counted in the runner's in_flight)
        self.start_error: str | None = None  # why the last runner failed to start
        self.failed_starts = 0  # ever, on this pool
        self.dispatcher = Dispatcher(self)

    @property
    def jobs(self) -> set[asyncio.Task[None]]:
        """Requests running on this app's runners."""
        return self.dispatcher.jobs

    @property
    def app_id(self) -> str:
        return self.app.app_id

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._scale_loop()),
            asyncio.create_task(self.dispatcher.loop()),
        ]

    async def stop(self, *, drain: float = 0.0) -> None:
        """Stop claiming; wait up to ``drain`` s (may be ``inf``) for in-flight work; stop
        the runners and give their slots back.

        Requests still running after that are requeued, not lost.
        """
        self.accepting = False
        self.slot.set()
        self.poke()
        # let a claim in flight land (a request claimed now is run, not dropped)
        if self._tasks:  # a pool that warmed up a runner but never served has none
            _, stuck = await asyncio.wait(self._tasks, timeout=self.tick * 4 + 2.0)
            for t in stuck:
                t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.jobs and drain > 0:
            await asyncio.wait(self.jobs, timeout=None if math.isinf(drain) else drain)
        for job in list(self.jobs):
            job.cancel()
        await asyncio.gather(*self.jobs, return_exceptions=True)
        await asyncio.gather(*(r.stop() for r in self.runners), return_exceptions=True)
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        for r in self.runners:
            with contextlib.suppress(Exception):
                await self.store.release_runner(r.id)

    # -- dispatch

    def load(self, runner: RunnerProcess) -> int:
        """Requests this worker runs on ``runner`` plus realtime sessions attached to it."""
        return runner.in_flight + self.sessions.get(runner.id, 0)

    def free_runner(self, hint: str | None = None) -> RunnerProcess | None:
        free = [
            r
            for r in self.runners
            if r.state is RunnerState.READY and self.load(r) < self.scaling.max_multiplexing
        ]
        if not free:
            return None
        if hint:
            matching = [r for r in free if hint in r.hints]
            free = matching or free
        return min(free, key=self.load)

    def reconfigure(self, app: AppRecord) -> None:
        """New settings for the same code (``apps scale``): applied live."""
        self.scaling = ScalingSettings.from_settings(app.settings)
        self.app = app
        self.dispatch_cfg.request_timeout = self.scaling.request_timeout
        self.slot.set()
        self.poke()

    def poke(self) -> None:
        """Decide the scale again now: something the store does not announce changed
        (settings, a runner exited, the pool stops)."""
        self._poked.set()

    # -- realtime sessions

    @contextlib.asynccontextmanager
    async def session(self, timeout: float) -> AsyncIterator[RunnerProcess]:
        """A runner slot held for one realtime session (it counts against max_multiplexing).

        Starts a runner if none is free. Raises TimeoutError when no slot frees up within
        ``timeout`` seconds, ConnectionError when the app's runners fail to start.
        """
        runner = await self._wait_for_slot(timeout)
        runner.in_flight += 1
        self.active_sessions += 1
        try:
            with contextlib.suppress(Exception):
                await self.announce(runner)  # the cluster's runner list shows the session now
            yield runner
        finally:
            self.active_sessions -= 1
            runner.in_flight -= 1
            with contextlib.suppress(Exception):
                await asyncio.shield(self.announce(runner))
            runner.last_used = time.monotonic()
            self.slot.set()

    async def _wait_for_slot(self, timeout: float) -> RunnerProcess:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        failed_before = self.failed_starts
        self.waiting_sessions += 1
        try:
            while (runner := self.free_runner()) is None:
                failed = self.failed_starts > failed_before
                if failed and not any(r.alive for r in self.runners):
                    raise ConnectionError(f"App {self.app_id} failed to start: {self.start_error}")
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise TimeoutError(f"no runner of {self.app_id} was free within {timeout:g}s")
                await self.rescale()  # count this session in the demand now, not at the next tick
                self.slot.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.slot.wait(), min(remaining, self.tick))
            return runner
        finally:
            self.waiting_sessions -= 1

    # -- scaling

    async def _scale_loop(self) -> None:
        while self.accepting:
            started = time.monotonic()
            self._poked.clear()  # before the reads: a poke meanwhile decides again
            wait = self.tick
            try:
                wait = await self.rescale()
            except Exception as e:  # the store may be restarting: try again next tick
                log.warning("scaling %s failed: %s: %s", self.app_id, type(e).__name__, e)
            await self._wait_for_change(wait)
            # a burst of submits wakes this loop once per request: decide at most every
            # RESCALE_EVERY seconds (each decision reads the store several times)
            await asyncio.sleep(max(0.0, started + RESCALE_EVERY - time.monotonic()))

    async def _wait_for_change(self, timeout: float) -> None:
        """Until work may have been queued for the app, the pool was poked, a session
        waits for a runner (see SESSION_POLL), or ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        every = self._session_poll()
        while (step := deadline - loop.time()) > 0:
            if every is None or step <= every:
                await self._woken(step)
                return
            if await self._woken(every):
                return
            with contextlib.suppress(Exception):  # the store may be restarting
                if (await self.store.session_counts(self.app_id)).waiting:
                    return

    def _session_poll(self) -> float | None:
        """Seconds between looks for sessions waiting in other gateways while settled: none
        on a store that announces them; SESSION_POLL for an app with a websocket endpoint
        (the realtime route opens sessions only for those), a lease TTL for others."""
        if self.store.announces_waiting_sessions:
            return None
        endpoints = self.app.endpoints.values()
        if any(isinstance(e, dict) and e.get("websocket") for e in endpoints):
            return SESSION_POLL
        return self.ctx.lease_ttl

    async def _woken(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for work of the app or a poke; False when none came."""
        if self._poked.is_set() or not self.accepting:
            return True
        loop = asyncio.get_running_loop()
        until = loop.time() + timeout
        # the work wait ends by itself (only a poke cancels it: a wait cancelled in the
        # middle of a store command may cost the store its connection)
        work = asyncio.create_task(self.store.wait_for_work(timeout, [self.app_id]))
        poked = asyncio.create_task(self._poked.wait())
        try:
            await asyncio.wait({work, poked}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (work, poked):
                task.cancel()
            await asyncio.gather(work, poked, return_exceptions=True)
        return self._poked.is_set() or loop.time() < until - 0.001

    async def rescale(self) -> float:
        """Start or stop runners for the demand now; returns how long the next decision
        can wait unless work is queued for the app or the pool is poked.

        A tick while a change is under way (fewer runners than needed, a runner starting
        or stopping); BUSY_TICK while it has work. Otherwise the app is idle and nothing it
        acts on changes unannounced: requests queued or requeued anywhere wake it
        (``wait_for_work``), and so do local changes (:meth:`poke`); it looks again when
        its first idle runner outlives ``keep_alive``, and at the latest after
        ``settled_wait``, a safety net for a lost wake-up (a lease TTL when the app keeps
        runners with no demand: one that dies elsewhere frees its slot only when the slot
        expires)."""
        self.runners = [r for r in self.runners if r.state is not RunnerState.DEAD]
        depth = await self.store.queue_depth(self.app_id)
        busy = await self.store.in_progress(self.app_id)  # anywhere in the cluster
        remote = await self.store.session_counts(self.app_id)  # from gateways elsewhere
        self.sessions = remote.by_runner
        for r in self.runners:
            if self.sessions.get(r.id):
                r.last_used = time.monotonic()  # keep_alive counts from the session's end
        local = self.waiting_sessions + self.active_sessions  # this process's gateway
        needed = self.scaling.runners_needed(depth + busy + remote.total + local)
        if not needed and not self.runners:
            # nothing to start, nothing of ours to stop: the cluster's runners do not matter
            self._pending_since = None
            return self._settled_wait(False)
        cluster = await self.store.list_runners(self.app_id)
        if len(cluster) < needed:
            if self._scale_up_allowed(depth, cluster):
                for _ in range(needed - len(cluster)):
                    if not await self._start_runner(limit=needed):
                        break
        else:
            self._pending_since = None
        extra = sum(r.state is not SlotState.STOPPING for r in cluster) > needed
        if extra:
            await self._scale_down(needed)
        if len(cluster) < needed or any(r.state is not SlotState.READY for r in cluster):
            return self.tick
        return self._settled_wait(extra, busy=depth + busy + remote.total > 0)

    def _settled_wait(self, extra: bool, *, busy: bool = False) -> float:
        """How long a settled app may wait for a wake-up (at least a tick): ``settled_wait``,
        a lease TTL when it keeps runners with no demand, BUSY_TICK while it has work or
        sessions of other gateways (see there), and until the first runner of this worker
        may outlive keep_alive when ``extra`` (more runners than needed)."""
        wait = self.ctx.settled_wait or 10 * self.ctx.lease_ttl
        if self.scaling.runners_needed(0):
            wait = min(wait, self.ctx.lease_ttl)
        if busy:
            wait = min(wait, BUSY_TICK)
        if extra:
            t = time.monotonic()
            for r in self.runners:
                if r.state is RunnerState.READY:
                    # a busy runner is idle keep_alive after it finishes, at the earliest
                    idle_at = r.last_used if self.load(r) == 0 else t
                    wait = min(wait, idle_at + self.scaling.keep_alive - t)
        return max(self.tick, wait)

    def _scale_up_allowed(self, depth: int, cluster: list[RunnerInfo]) -> bool:
        t = time.monotonic()
        if t < self._next_start_at:
            return False
        if self.scaling.scaling_delay and depth > 0 and cluster:
            # scaling_delay holds back *extra* runners, never the first one
            self._pending_since = self._pending_since or t
            return t - self._pending_since >= self.scaling.scaling_delay
        return True

    async def _scale_down(self, needed: int) -> None:
        idle = sorted(
            (
                r
                for r in self.runners
                if r.state is RunnerState.READY
                and self.load(r) == 0
                and time.monotonic() - r.last_used >= self.scaling.keep_alive
            ),
            key=lambda r: r.last_used,
        )
        for r in idle:
            r.state = RunnerState.STOPPING  # before the await: no request may reach it now
            if not await self.store.retire_runner(r.id, keep=needed):
                if r.state is RunnerState.STOPPING and r.exit_code is None:
                    r.state = RunnerState.READY
                    self.slot.set()
                return
            log.info(
                "runner %s of %s idle for %.0fs: stopping",
                r.id,
                self.app_id,
                time.monotonic() - r.last_used,
            )
            self._spawn(r.stop())

    async def _start_runner(self, limit: int) -> bool:
        """Take a cluster slot and start a runner in it; False when there is no slot (or
        no free GPU on this host)."""
        gpus = self.ctx.gpus.take(self.gpus_per_runner)
        if gpus is None:
            return False
        try:
            launch = await self.ctx.launch(self.app)
        except BaseException:
            self.ctx.gpus.give(gpus)
            raise
        runner = RunnerProcess(
            app_id=self.app_id,
            app_ref=launch.ref,
            python=launch.python,
            on_output=self.ctx.on_output,
            env={**self.ctx.env, **launch.env, **self.ctx.gpus.env(gpus)},
            host=self.ctx.runner_host,
            advertise_host=self.ctx.advertise_host,
            gpus=gpus,
        )
        runner.port = free_port(runner.host)  # announced with the slot
        try:
            taken = await self.store.acquire_runner(
                self.info(runner), limit=limit, ttl=self.ctx.lease_ttl
            )
        except BaseException:
            self.ctx.gpus.give(gpus)
            raise
        if not taken:
            self.ctx.gpus.give(gpus)
            return False
        self.runners.append(runner)
        self._spawn(self._lifecycle(runner))
        return True

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _lifecycle(self, runner: RunnerProcess) -> None:
        """Boot a runner, announce it, and give its slot and GPUs back when it exits."""
        try:
            if await self._boot(runner):
                await self.announce(runner)
                await runner.wait_exited()
        finally:
            self.ctx.gpus.give(runner.gpus)
            with contextlib.suppress(Exception):
                await asyncio.shield(self.store.release_runner(runner.id))
            self.poke()  # its slot is free: replace it if it is still needed

    async def announce(self, runner: RunnerProcess) -> None:
        """Publish a runner's state now (the heartbeat would within a third of a TTL)."""
        lost = await self.store.heartbeat_runners([self.info(runner)], self.ctx.lease_ttl)
        if lost:
            await self.lose(runner)

    async def lose(self, runner: RunnerProcess) -> None:
        """Its slot expired (this worker could not reach the store for a whole TTL) and
        may be someone else's: stop it, so the cluster limit holds."""
        if runner.alive:
            log.warning("runner %s of %s lost its slot: stopping it", runner.id, self.app_id)
            await runner.kill()

    async def _boot(self, runner: RunnerProcess) -> bool:
        try:
            await runner.start(self.http, self.scaling.startup_timeout)
        except (RunnerStartError, OSError) as e:
            runner.state = RunnerState.DEAD
            self.start_error = str(e)
            self.failed_starts += 1
            self._start_failures += 1
            self._next_start_at = time.monotonic() + min(2**self._start_failures, 30)
            log.error("%s (failure %d)", e, self._start_failures)
            if self._start_failures >= MAX_START_FAILURES:
                await self._fail_queued(str(e))
            return False
        self._start_failures = 0
        self.slot.set()
        return True

    def info(self, runner: RunnerProcess) -> RunnerInfo:
        return RunnerInfo(
            runner_id=runner.id,
            app_id=self.app_id,
            worker_id=self.worker_id,
            host=self.ctx.host,
            url=runner.public_url,
            state=_SLOT_STATES[runner.state],
            in_flight=runner.in_flight,
            max_multiplexing=self.scaling.max_multiplexing,
            gpus=",".join(runner.gpus),
            started_at=runner.started_at,
        )

    async def _fail_queued(self, reason: str) -> None:
        """The app cannot start: answer queued requests instead of leaving them hanging."""
        detail = f"App {self.app_id} failed to start: {reason}"
        while (rec := await self.store.claim([self.app_id], self.worker_id)) is not None:
            await self.store.fail(
                rec.id,
                503,
                detail,
                "runner_scheduling_failure",
                worker_id=self.worker_id,
                headers={"x-fal-error-type": "runner_scheduling_failure"},
            )
        self._start_failures = 0

    def describe(self) -> list[dict[str, Any]]:
        return [
            {
                "runner_id": r.id,
                "app_id": self.app_id,
                "state": r.state.value,
                "in_flight": r.in_flight,
                "port": r.port,
                "uptime": time.time() - r.started_at,
            }
            for r in self.runners
        ]
