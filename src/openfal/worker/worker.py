"""The worker: one supervisor per app plus the store's housekeeping."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from openfal.store import AppRecord, Store
from openfal.worker.pool import AppPool

log = logging.getLogger("openfal.worker")


@dataclass
class WorkerConfig:
    lease_ttl: float = 30.0
    cancel_grace: float = 1.0
    housekeeping_interval: float = 1.0
    purge_interval: float = 60.0
    # Embedded mode owns the store alone: anything IN_PROGRESS at start was orphaned by a
    # crash and is requeued at once instead of after its lease expires.
    recover_orphans: bool = False
    env: dict[str, str] | None = None


class Worker:
    """Runs requests of the apps it was given, on runner processes it starts."""

    def __init__(
        self, store: Store, config: WorkerConfig | None = None, worker_id: str | None = None
    ) -> None:
        self.store = store
        self.config = config or WorkerConfig()
        self.id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.pools: dict[str, AppPool] = {}
        self._http: httpx.AsyncClient | None = None
        self._housekeeping: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._http = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=64)
        )
        if self.config.recover_orphans:
            ids = await self.store.requeue_expired(before=float("inf"))
            if ids:
                log.warning("requeued %d request(s) left running by a previous run", len(ids))
        self._housekeeping = asyncio.create_task(self._housekeeping_loop())

    async def add_app(self, app: AppRecord) -> None:
        assert self._http is not None, "start() the worker first"
        old = self.pools.pop(app.app_id, None)
        if old is not None:
            await old.stop()
        pool = AppPool(
            app,
            self.store,
            self._http,
            self.id,
            lease_ttl=self.config.lease_ttl,
            cancel_grace=self.config.cancel_grace,
            env=self.config.env,
        )
        self.pools[app.app_id] = pool
        pool.start()

    async def stop(self, drain: float = 0.0) -> None:
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeping
        await asyncio.gather(*(p.stop(drain=drain) for p in self.pools.values()))
        if self._http is not None:
            await self._http.aclose()

    def runners(self) -> list[dict[str, Any]]:
        return [r for p in self.pools.values() for r in p.describe()]

    async def _housekeeping_loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_purge = loop.time()
        while True:
            try:
                await self.store.requeue_expired()
                if loop.time() >= next_purge:
                    next_purge = loop.time() + self.config.purge_interval
                    await self.store.purge_completed()
            except Exception:
                log.exception("store housekeeping failed")
            await asyncio.sleep(self.config.housekeeping_interval)
