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
import signal

from openfal import toolkit
from openfal.apps import runner_env as apps_runner_env
from openfal.deploy.rollout import REV_PREFIX, Deployer
from openfal.deploy.wiring import make_deployer, worker_hooks
from openfal.metrics.listener import serve_metrics
from openfal.metrics.store_timing import instrument
from openfal.server.apps import BUILTIN_APPS, app_record, installed, resolve_ref
from openfal.server.runtime import run_async, settle_gc, setup_logging
from openfal.server.secrets import load_secrets
from openfal.server.security import start_sender
from openfal.server.settings import Settings
from openfal.store import AppRecord, Store
from openfal.worker import Worker, WorkerConfig

log = logging.getLogger("openfal")

__all__ = ["AppWatcher", "app_refs", "build_worker", "register", "run_worker", "worker_main"]


def build_worker(
    settings: Settings, store: Store, *, embedded: bool, deployer: Deployer | None = None
) -> Worker:
    """A worker on ``store``; ``embedded``: inside ``openfal serve``, which owns its store
    (orphaned requests are requeued at start) and whose runners write its storage.
    ``deployer`` starts the runners of deployed revisions (``openfal.deploy``)."""
    return Worker(
        store,
        WorkerConfig(
            **(worker_hooks(deployer) if deployer is not None else {}),
            lease_ttl=settings.lease_ttl,
            housekeeping_interval=settings.housekeeping_every,
            cancel_grace=settings.cancel_grace,
            recover_orphans=embedded and settings.embedded,
            env=runner_env(settings, embedded=embedded),
            gpus=settings.gpus,
            runner_host=settings.runner_host,
            advertise_host=settings.advertise_host,
            host=settings.worker_host,
        ),
    )


def runner_env(settings: Settings, *, embedded: bool) -> dict[str, str]:
    """The runners' environment: their file context (see ``openfal.toolkit``) and the
    built-in apps' settings. Inside ``serve`` runners write the server's storage; a
    worker's write the shared ``storage_url``, else upload through the gateways at
    ``public_url``, else return files inline as ``data:`` URIs."""
    public = settings.public if embedded else settings.public_url
    storage = settings.storage if embedded else settings.storage_url
    upload_url = f"{public}/rest/storage/upload" if public and not storage else None
    if not public:
        log.warning("no --gateway-url: files that apps make are returned inline as data: URIs")
    files = toolkit.configure(
        storage_url=storage,
        public_url=public,
        file_retention=settings.upload_retention,
        upload_url=upload_url,
        upload_key=settings.gateway_key if upload_url else None,
    )
    apps = apps_runner_env(settings.data_dir, settings.demo_weights, settings.apps_config)
    return {**files.as_env(), **apps}


def app_refs(settings: Settings) -> list[str]:
    """The apps to register at start: the built-ins installed here, then ``--app`` ones."""
    builtins = installed(BUILTIN_APPS) if settings.builtins else []
    return builtins + [resolve_ref(r) for r in settings.apps]


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
            if record.source.startswith(REV_PREFIX):
                continue  # a deployed revision: the Deployer serves it
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


async def worker_main(settings: Settings) -> None:
    store = Store.from_url(
        settings.shared_store("worker"),
        retention=settings.retention,
        max_attempts=settings.max_attempts,
    )
    await store.open()
    deployer = make_deployer(store, None)
    instrument(store)
    worker = build_worker(settings, store, embedded=False, deployer=deployer)
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
    secrets = await load_secrets(settings, store, shared=True)
    sender = await start_sender(store, settings, secrets.webhook)
    try:
        await worker.start()
        deployer.start(worker)
        listed: dict[str, str] = {}
        for ref in app_refs(settings):
            record = await register(store, ref)
            listed[record.app_id] = ref
            await worker.add_app(record)
            log.info("app %s (%s)", record.app_id, ref)
        watcher = AppWatcher(worker, store, listed, settings.only_listed)
        watcher_task = asyncio.create_task(watcher.run(settings.app_refresh))
        if settings.metrics_port is not None:
            metrics_server = await serve_metrics(
                store, worker.id, settings.metrics_host, settings.metrics_port
            )
        log.info(
            "openfal worker %s on %s (store %s, GPUs %s)",
            worker.id,
            worker.host,
            settings.store_url,
            ",".join(settings.gpus) if settings.gpus is not None else "not managed",
        )
        settle_gc()
        await stopping.wait()
    finally:
        if metrics_server is not None:
            metrics_server.close()
        if watcher_task is not None:
            watcher_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher_task
        await deployer.stop()
        await worker.stop(drain=settings.drain_timeout if stopping.is_set() else 0.0)
        await sender.stop()
        await store.close()
        log.info("worker %s stopped", worker.id)


def run_worker(settings: Settings) -> None:
    setup_logging(settings.log_level, settings.log_format)
    run_async(worker_main(settings))
