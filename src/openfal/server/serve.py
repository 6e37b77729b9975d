"""``openfal serve``: the gateway and a worker in one process, embedded defaults.

The halves run alone as ``openfal gateway`` and ``openfal worker``
(:mod:`openfal.server.gateway`, :mod:`openfal.server.worker`).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from openfal.deploy.wiring import add_admin_routes, make_deployer
from openfal.gateway import AppRegistry
from openfal.server.apps import app_record
from openfal.server.broker import StoreBroker
from openfal.server.gateway import announce, build_gateway, open_services, send_webhooks, tasks
from openfal.server.runtime import (
    run_async,
    settle_gc,
    setup_logging,
    sweep_storage,
    uvicorn_server,
)
from openfal.server.secrets import load_secrets
from openfal.server.settings import Settings
from openfal.server.worker import app_refs, build_worker
from openfal.store import Store
from openfal.worker import Worker
from openfal.worker.sessions import LocalBroker

log = logging.getLogger("openfal")

__all__ = ["data_dir_lock", "run", "serve"]


@contextlib.contextmanager
def data_dir_lock(data_dir: Path) -> Iterator[IO[str]]:
    """One ``openfal serve`` per data dir: it may then requeue orphans at start safely."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / "serve.lock", "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SystemExit(f"another `openfal serve` is using {data_dir}") from None
        f.write(str(os.getpid()))
        f.flush()
        yield f


async def register_apps(
    settings: Settings, store: Store, registry: AppRegistry, worker: Worker
) -> None:
    for ref in app_refs(settings):
        record, models = app_record(ref)
        await store.register_app(record)
        registry.add_local(record, models)
        await worker.add_app(record)
        log.info(
            "app %s (%s): %s", record.app_id, ref, ", ".join("/" + p for p in record.endpoints)
        )


async def serve(settings: Settings) -> None:
    with data_dir_lock(settings.data_dir):
        async with open_services(settings, settings.store) as (store, storage):
            embedded = settings.embedded
            secrets = await load_secrets(settings, store, shared=not embedded)
            deployer = make_deployer(store, settings.data_dir)
            worker = build_worker(settings, store, embedded=True, deployer=deployer)
            await worker.start()
            deployer.start(worker)
            try:
                registry = AppRegistry(store)
                await register_apps(settings, store, registry, worker)
                # joined to a cluster, realtime sessions go to runners of any worker (ours too)
                broker = LocalBroker(worker) if embedded else StoreBroker(store)
                app = build_gateway(
                    settings, store, storage, secrets, registry=registry, broker=broker
                )
                add_admin_routes(app, settings.data_dir)
                where = (
                    f"--store {settings.store_url}"
                    if settings.store_url
                    else f"--data-dir {settings.data_dir}"
                )
                await announce(settings, store, app, where)
                async with tasks(
                    send_webhooks(store, settings, secrets, recover_leases=embedded),
                    sweep_storage(storage, settings.storage_sweep_interval),
                ):
                    log.info(
                        "openfal serving on http://%s:%d (store %s, files %s, public URL %s)",
                        settings.host,
                        settings.port,
                        settings.store,
                        storage,
                        settings.public,
                    )
                    server = uvicorn_server(app, settings.host, settings.port, settings.log_level)
                    settle_gc()
                    await server.serve()
            finally:
                await deployer.stop()
                await worker.stop()


def run(settings: Settings) -> None:
    setup_logging(settings.log_level, settings.log_format)
    run_async(serve(settings))
