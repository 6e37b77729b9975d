"""The worker: one supervisor per app, the runner heartbeat and the store's housekeeping."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from openfal.store import AppRecord, RunnerInfo, Store, WorkerInfo
from openfal.store.housekeeping import housekeeping
from openfal.worker.gpus import GpuPool
from openfal.worker.launch import Launcher, plain_launch
from openfal.worker.runner_process import RunnerProcess, RunnerState
from openfal.worker.supervisor import PoolContext, Supervisor

log = logging.getLogger("openfal.worker")


@dataclass
class WorkerConfig:
    lease_ttl: float = 30.0  # request leases and runner slots: renewed every third of it
    cancel_grace: float = 1.0
    # seconds between two looks for expired leases (None: a third of lease_ttl, so an
    # orphaned request waits at most 4/3 lease_ttl); purges every purge_interval
    housekeeping_interval: float | None = None
    purge_interval: float = 60.0
    settled_wait: float | None = None  # see PoolContext (None: ten lease TTLs)
    # Embedded mode owns the store alone: anything IN_PROGRESS at start was orphaned by a
    # crash and is requeued at once instead of after its lease expires.
    recover_orphans: bool = False
    env: dict[str, str] | None = None
    gpus: list[str] | None = None  # GPU ids to hand out (None: do not manage GPUs)
    runner_host: str = "127.0.0.1"  # the address runners bind
    advertise_host: str | None = None  # the address gateways reach runners at
    host: str | None = None  # this machine's name in listings (default: hostname)
    launch: Launcher = plain_launch  # how runners start (deployed apps: their own env)
    on_output: Callable[[RunnerProcess, str, str], None] | None = None  # runners' output


def _same_app(a: AppRecord, b: AppRecord) -> bool:
    return (a.source, a.settings, a.endpoints) == (b.source, b.settings, b.endpoints)


class Worker:
    """Runs requests of the apps it was given, on runner processes it starts."""

    def __init__(
        self, store: Store, config: WorkerConfig | None = None, worker_id: str | None = None
    ) -> None:
        self.store = store
        self.config = config or WorkerConfig()
        self.host = self.config.host or socket.gethostname()
        self.id = worker_id or f"{self.host}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.gpus = GpuPool(self.config.gpus)
        self.pools: dict[str, Supervisor] = {}
        self.draining = False
        self.started_at = time.time()
        self._ctx: PoolContext | None = None
        self._http: httpx.AsyncClient | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._retiring: dict[Supervisor, asyncio.Task[None]] = {}  # replaced pools, draining
        self.warming: set[Supervisor] = set()  # a new revision's pools, not serving yet

    async def start(self) -> None:
        self._http = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=64)
        )
        self._ctx = PoolContext(
            store=self.store,
            http=self._http,
            worker_id=self.id,
            host=self.host,
            lease_ttl=self.config.lease_ttl,
            settled_wait=self.config.settled_wait,
            cancel_grace=self.config.cancel_grace,
            env=dict(self.config.env or {}),
            gpus=self.gpus,
            runner_host=self.config.runner_host,
            advertise_host=self.config.advertise_host,
            launch=self.config.launch,
            on_output=self.config.on_output,
        )
        if self.config.recover_orphans:
            ids = await self.store.requeue_expired(before=float("inf"))
            if ids:
                log.warning("requeued %d request(s) left running by a previous run", len(ids))
            for runner in await self.store.list_runners():  # their processes died with it
                await self.store.release_runner(runner.runner_id)
        await self._heartbeat()
        self._tasks = [
            asyncio.create_task(
                housekeeping(
                    self.store,
                    self.config.housekeeping_interval or self.config.lease_ttl / 3,
                    self.config.purge_interval,
                )
            ),
            asyncio.create_task(self._heartbeat_loop()),
        ]

    async def add_app(self, app: AppRecord) -> None:
        """Serve ``app``. A changed registration replaces the pool; the old one drains."""
        assert self._ctx is not None, "start() the worker first"
        old = self.pools.get(app.app_id)
        if old is not None and _same_app(old.app, app):
            return
        if old is not None and (old.app.source, old.app.endpoints) == (app.source, app.endpoints):
            old.reconfigure(app)  # only settings changed: no new runners
            return
        pool = Supervisor(app, self._ctx)
        self.pools[app.app_id] = pool
        pool.start()
        if old is not None:
            self._retire(old, float("inf"))
        with contextlib.suppress(Exception):  # advertise the new app now, not at the next beat
            await self.store.heartbeat_worker(self.info(), self.config.lease_ttl)

    async def remove_app(self, app_id: str, drain: float = float("inf")) -> None:
        """Stop serving ``app_id``: its pool drains in the background (its runners keep
        their heartbeat meanwhile)."""
        pool = self.pools.pop(app_id, None)
        if pool is not None:
            self._retire(pool, drain)
            with contextlib.suppress(Exception):
                await self.store.heartbeat_worker(self.info(), self.config.lease_ttl)

    def new_pool(self, app: AppRecord) -> Supervisor:
        """A pool for ``app`` that is not serving yet (a rollout warms it up)."""
        assert self._ctx is not None, "start() the worker first"
        return Supervisor(app, self._ctx)

    def retire(self, pool: Supervisor, drain: float = float("inf")) -> None:
        """Stop ``pool`` claiming now; its in-flight requests finish, then it stops."""
        pool.accepting = False  # before any await: not one more claim
        self._retire(pool, drain)

    def _retire(self, pool: Supervisor, drain: float) -> None:
        task = asyncio.create_task(pool.stop(drain=drain))
        self._retiring[pool] = task
        task.add_done_callback(lambda _: self._retiring.pop(pool, None))

    @property
    def in_flight(self) -> int:
        return sum(len(p.jobs) for p in self.pools.values())

    async def stop(self, drain: float = 0.0) -> None:
        """Stop every app: in-flight requests get ``drain`` seconds (``inf``: as long as
        they take) before they are requeued. Heartbeats go on until the runners are gone,
        so the slots and leases stay this worker's while it drains."""
        self.draining = True
        with contextlib.suppress(Exception):
            await self._heartbeat()
        await asyncio.gather(
            *(p.stop(drain=drain) for p in [*self.pools.values(), *self.warming]),
            *self._retiring.values(),
            return_exceptions=True,
        )
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.store.remove_worker(self.id)
        if self._http is not None:
            await self._http.aclose()

    def abort(self) -> None:
        """Cancel every in-flight request now: each goes back to the queue without
        counting an attempt (a draining :meth:`stop` then finishes at once)."""
        for pool in [*self.pools.values(), *self._retiring, *self.warming]:
            for job in list(pool.jobs):
                job.cancel()

    def runners(self) -> list[dict[str, Any]]:
        pools = [*self.pools.values(), *self.warming, *self._retiring]
        return [r for p in pools for r in p.describe()]

    def info(self) -> WorkerInfo:
        return WorkerInfo(
            worker_id=self.id,
            host=self.host,
            pid=os.getpid(),
            apps=sorted(self.pools),
            gpus=self.gpus.all,
            free_gpus=self.gpus.free,
            draining=self.draining,
            started_at=self.started_at,
        )

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(max(self.config.lease_ttl / 3, 0.05))
            try:
                await self._heartbeat()
            except Exception as e:  # the store may be restarting: the next beat retries
                log.warning("worker heartbeat failed: %s: %s", type(e).__name__, e)

    async def _heartbeat(self) -> None:
        """Renew this worker's record and every runner's slot with its current load."""
        await self.store.heartbeat_worker(self.info(), self.config.lease_ttl)
        owned: dict[str, tuple[Supervisor, Any]] = {}
        infos: list[RunnerInfo] = []
        for pool in [*self.pools.values(), *self._retiring, *self.warming]:
            for runner in pool.runners:
                if runner.state is not RunnerState.DEAD:
                    owned[runner.id] = (pool, runner)
                    infos.append(pool.info(runner))
        for runner_id in await self.store.heartbeat_runners(infos, self.config.lease_ttl):
            pool, runner = owned[runner_id]
            await pool.lose(runner)
