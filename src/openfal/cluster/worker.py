"""``openfal worker``: the dispatcher and runner supervisor of one host, no HTTP surface.

A worker registers the apps it was given (``--app``) in the store, and serves every app
registered there whose code it can load (a shared folder mounted at the same path on
every host, or the same package installed), unless ``--only-listed``. Its runners hold
cluster-wide slots, so each app's concurrency limits hold across all workers.

Signals: the first SIGTERM (or SIGINT) drains: no new request is claimed, in-flight ones
finish, the runners stop, and the process exits 0. A second one stops at once; requests
still running are requeued, without counting an attempt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import signal
from dataclasses import dataclass, field, replace

from openfal.cluster.apps import BUILTIN_APPS, app_record, installed, resolve_ref
from openfal.cluster.common import run_async, setup_logging, shared_store_url
from openfal.metrics.listener import serve_metrics
from openfal.metrics.store_timing import instrument
from openfal.security import SecurityConfig, signing_key, start_sender
from openfal.store import AppRecord, Store
from openfal.toolkit._gateway import ENV_UPLOAD_KEY, ENV_UPLOAD_URL
from openfal.toolkit._settings import ToolkitSettings
from openfal.worker import Worker, WorkerConfig

log = logging.getLogger("openfal")


@dataclass
class WorkerProcessConfig:
    store_url: str
    apps: list[str] = field(default_factory=list)  # refs to register and serve
    builtins: bool = True
    only_listed: bool = False  # serve only the --app apps, not others registered
    gpus: list[str] | None = None
    # the gateways' public URL: file URLs start with it, and runners upload through it
    # when this host does not share the storage
    gateway_url: str | None = field(default_factory=lambda: os.environ.get("OPENFAL_PUBLIC_URL"))
    gateway_key: str | None = field(default_factory=lambda: os.environ.get("OPENFAL_GATEWAY_KEY"))
    storage_url: str | None = field(default_factory=lambda: os.environ.get("OPENFAL_STORAGE_URL"))
    file_retention: float = 7 * 24 * 3600.0  # seconds a runner's output file lives
    runner_host: str = "127.0.0.1"
    advertise_host: str | None = None
    host: str | None = None
    lease_ttl: float = 30.0
    cancel_grace: float = 1.0
    retention: float = 3600.0
    max_attempts: int = 3
    app_refresh: float = 2.0  # seconds between looks at the store's app list
    drain_timeout: float = math.inf
    metrics_port: int | None = None  # serve /metrics there (None: no listener)
    metrics_host: str = "127.0.0.1"
    log_level: str = "info"
    security: SecurityConfig = field(default_factory=SecurityConfig)  # webhook delivery

    def runner_env(self) -> dict[str, str]:
        """The runners' file context (see ``openfal.toolkit``): shared storage written
        directly, else uploads through a gateway, else ``data:`` URIs."""
        public = self.gateway_url.rstrip("/") if self.gateway_url else None
        files = replace(
            ToolkitSettings.from_env(),
            storage_url=self.storage_url,
            public_url=public,
            file_retention=self.file_retention,
        )
        env = files.as_env()
        if public and not self.storage_url:
            env[ENV_UPLOAD_URL] = f"{public}/rest/storage/upload"
            if self.gateway_key:
                env[ENV_UPLOAD_KEY] = self.gateway_key
        elif not public:
            log.warning("no --gateway-url: files that apps make are returned inline as data: URIs")
        return env


class AppWatcher:
    """Keeps the worker's apps in line with the store's registrations."""

    def __init__(
        self, worker: Worker, store: Store, listed: dict[str, str], only_listed: bool
    ) -> None:
        self.worker, self.store = worker, store
        self.listed, self.only_listed = listed, only_listed  # app id -> ref given with --app
        self._unloadable: dict[str, tuple[str, str]] = {}  # app id -> registration that failed

    async def sync(self) -> None:
        records = {r.app_id: r for r in await self.store.list_apps()}
        for app_id, ref in self.listed.items():
            if app_id not in records:  # e.g. a Redis without persistence restarted
                log.warning("app %s is not registered any more: registering it again", app_id)
                records[app_id] = await register(self.store, ref)
        for app_id in list(self.worker.pools):
            if app_id not in records:
                log.info("app %s was unregistered: draining it", app_id)
                await self.worker.remove_app(app_id)
        for record in records.values():
            if self.only_listed and record.app_id not in self.listed:
                continue
            if await self._loadable(record):
                await self.worker.add_app(record)

    async def _loadable(self, record: AppRecord) -> bool:
        pool = self.worker.pools.get(record.app_id)
        if pool is not None and pool.app.source == record.source:
            return True  # the code is here (a settings change needs no new check)
        key = (record.source, repr((record.settings, record.endpoints)))
        if self._unloadable.get(record.app_id) == key:
            return False
        try:
            found, _ = await asyncio.to_thread(app_record, record.source)
        except Exception as e:
            self._unloadable[record.app_id] = key
            log.warning(
                "not serving app %s: its code %s does not load on this host (%s: %s)",
                record.app_id,
                record.source,
                type(e).__name__,
                e,
            )
            return False
        if found.app_id != record.app_id:
            self._unloadable[record.app_id] = key
            log.warning(
                "not serving app %s: %s is %s here", record.app_id, record.source, found.app_id
            )
            return False
        return True

    async def run(self, interval: float) -> None:
        while True:
            try:
                await self.sync()
            except Exception as e:  # the store may be restarting
                log.warning("app list refresh failed: %s: %s", type(e).__name__, e)
            await asyncio.sleep(interval)


async def register(store: Store, ref: str) -> AppRecord:
    """Register an app from code on this host; an unchanged registration is kept as is
    (so other processes do not reload it)."""
    record, _ = await asyncio.to_thread(app_record, ref)
    stored = await store.get_app(record.app_id)
    if stored is not None and (stored.source, stored.settings, stored.endpoints) == (
        record.source,
        record.settings,
        record.endpoints,
    ):
        return stored
    await store.register_app(record)
    return await store.get_app(record.app_id) or record


async def worker_main(cfg: WorkerProcessConfig) -> None:
    store = Store.from_url(
        shared_store_url(cfg.store_url, "worker"),
        retention=cfg.retention,
        max_attempts=cfg.max_attempts,
    )
    await store.open()
    instrument(store)
    worker = Worker(
        store,
        WorkerConfig(
            lease_ttl=cfg.lease_ttl,
            cancel_grace=cfg.cancel_grace,
            env=cfg.runner_env(),
            gpus=cfg.gpus,
            runner_host=cfg.runner_host,
            advertise_host=cfg.advertise_host,
            host=cfg.host,
        ),
    )
    stopping = asyncio.Event()
    signals = 0

    def on_signal() -> None:
        nonlocal signals
        signals += 1
        if signals == 1:
            log.info("draining: %d request(s) in flight, claiming nothing new", worker.in_flight)
            stopping.set()
        else:
            log.warning("stopping now: requeueing %d request(s) in flight", worker.in_flight)
            worker.abort()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal)
    watcher_task: asyncio.Task[None] | None = None
    metrics_server: asyncio.Server | None = None
    sender = await start_sender(store, cfg.security, await signing_key(store, None))
    try:
        await worker.start()
        builtins = installed(BUILTIN_APPS) if cfg.builtins else []
        refs = builtins + [resolve_ref(r) for r in cfg.apps]
        listed: dict[str, str] = {}
        for ref in refs:
            record = await register(store, ref)
            listed[record.app_id] = ref
            await worker.add_app(record)
            log.info("app %s (%s)", record.app_id, ref)
        watcher = AppWatcher(worker, store, listed, cfg.only_listed)
        watcher_task = asyncio.create_task(watcher.run(cfg.app_refresh))
        if cfg.metrics_port is not None:
            metrics_server = await serve_metrics(
                store, worker.id, cfg.metrics_host, cfg.metrics_port
            )
        log.info(
            "openfal worker %s on %s (store %s, GPUs %s)",
            worker.id,
            worker.host,
            cfg.store_url,
            ",".join(cfg.gpus) if cfg.gpus is not None else "not managed",
        )
        await stopping.wait()
    finally:
        if metrics_server is not None:
            metrics_server.close()
        if watcher_task is not None:
            watcher_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher_task
        await worker.stop(drain=cfg.drain_timeout if stopping.is_set() else 0.0)
        await sender.stop()
        await store.close()
        log.info("worker %s stopped", worker.id)


def run_worker(cfg: WorkerProcessConfig) -> None:
    setup_logging(cfg.log_level)
    run_async(worker_main(cfg))
