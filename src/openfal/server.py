"""``openfal serve``: gateway + worker + store in one process, embedded defaults.

The halves run alone as ``openfal gateway`` and ``openfal worker`` (``openfal.cluster``).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from openfal import toolkit
from openfal.apps._settings import runner_env
from openfal.cluster.apps import BUILTIN_APPS, app_record, installed, resolve_ref
from openfal.cluster.broker import StoreBroker
from openfal.cluster.common import run_async, setup_logging, sweep_storage, uvicorn_server
from openfal.deploy.wiring import add_admin_routes, make_deployer, worker_hooks
from openfal.gateway import AppRegistry, GatewaySettings, create_app, tokens
from openfal.gateway.routes.files import Signer, UploadConfig, load_or_create_secret
from openfal.security import SecurityConfig, secure, signing_key, start_sender
from openfal.storage import Storage
from openfal.store import Store
from openfal.worker import Worker, WorkerConfig
from openfal.worker.sessions import LocalBroker

log = logging.getLogger("openfal")

__all__ = [
    "BUILTIN_APPS",
    "ServeConfig",
    "app_record",
    "resolve_ref",
    "run",
    "serve",
    "sweep_storage",
]


@dataclass
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path(".openfal")
    store_url: str | None = None  # default: sqlite under data_dir
    apps: list[str] = field(default_factory=list)
    builtins: bool = True
    lease_ttl: float = 30.0
    cancel_grace: float = 1.0
    retention: float = 3600.0
    max_attempts: int = 3
    max_body_size: int = 64 * 1024 * 1024
    log_level: str = "info"
    # default: file://<data_dir>/files; s3://bucket/prefix needs the s3 extra
    storage_url: str | None = field(default_factory=lambda: os.environ.get("OPENFAL_STORAGE_URL"))
    max_upload_size: int = field(
        default_factory=lambda: int(os.environ.get("OPENFAL_MAX_UPLOAD_SIZE", 1024**3))
    )
    upload_retention: float = 7 * 24 * 3600.0  # seconds an upload lives without a lifecycle
    storage_sweep_interval: float = 300.0
    demo_weights: bool = False  # built-in model apps run small random-weight pipelines
    apps_config: Path | None = None  # default: <data_dir>/apps.toml when it exists
    # the base URL clients reach this server on, for the file URLs apps make
    public_url: str | None = None  # else $OPENFAL_PUBLIC_URL, else http://host:port
    # limits per user (None: unlimited) and webhooks (see cli/security_args.py)
    rate_limit: int | None = None
    rate_window: float = 60.0
    max_concurrent: int | None = None
    webhook_allow: list[str] = field(default_factory=list)
    webhook_retry_base: float = 15.0
    webhook_max_attempts: int = 10
    webhook_timeout: float = 15.0

    def security(self) -> SecurityConfig:
        return SecurityConfig(
            rate_limit=self.rate_limit,
            rate_window=self.rate_window,
            max_concurrent=self.max_concurrent,
            webhook_allow=self.webhook_allow,
            webhook_retry_base=self.webhook_retry_base,
            webhook_max_attempts=self.webhook_max_attempts,
            webhook_timeout=self.webhook_timeout,
        )

    @property
    def store(self) -> str:
        return self.store_url or f"sqlite:///{self.data_dir / 'openfal.db'}"

    @property
    def storage(self) -> str:
        return self.storage_url or f"file://{(self.data_dir / 'files').absolute()}"

    @property
    def public(self) -> str:
        given = self.public_url or os.environ.get("OPENFAL_PUBLIC_URL")
        if given:
            return given.rstrip("/")
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"


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


async def serve(cfg: ServeConfig) -> None:
    with data_dir_lock(cfg.data_dir):
        store = Store.from_url(cfg.store, retention=cfg.retention, max_attempts=cfg.max_attempts)
        await store.open()
        registry = AppRegistry(store)
        embedded = not cfg.store.startswith(("redis://", "rediss://"))
        # runners store files straight into this storage, and the gateway's input checks
        # know this server's own file URLs
        files = toolkit.configure(
            storage_url=cfg.storage, public_url=cfg.public, file_retention=cfg.upload_retention
        )
        deployer = make_deployer(store, cfg.data_dir)
        worker = Worker(
            store,
            WorkerConfig(
                **worker_hooks(deployer),
                lease_ttl=cfg.lease_ttl,
                cancel_grace=cfg.cancel_grace,
                recover_orphans=embedded,
                env={
                    **files.as_env(),
                    **runner_env(cfg.data_dir, cfg.demo_weights, cfg.apps_config),
                },
            ),
        )
        storage = Storage.from_url(cfg.storage, max_size=cfg.max_upload_size)
        await storage.open()
        await worker.start()
        deployer.start(worker)
        # one server keeps its signing key in the data dir; a shared store holds it for all
        key = await signing_key(store, cfg.data_dir if embedded else None)
        sender = await start_sender(store, cfg.security(), key, recover_leases=embedded)
        sweeper = asyncio.create_task(sweep_storage(storage, cfg.storage_sweep_interval))
        try:
            builtins = installed(BUILTIN_APPS) if cfg.builtins else []
            refs = builtins + [resolve_ref(r) for r in cfg.apps]
            for ref in refs:
                record, models = app_record(ref)
                await store.register_app(record)
                registry.add_local(record, models)
                await worker.add_app(record)
                log.info(
                    "app %s (%s): %s",
                    record.app_id,
                    ref,
                    ", ".join("/" + p for p in record.endpoints),
                )
            app = create_app(
                store, registry, GatewaySettings(max_body_size=cfg.max_body_size), storage=storage
            )
            app.state.uploads = UploadConfig(
                signer=Signer(load_or_create_secret(cfg.data_dir / "upload.key")),
                default_retention=cfg.upload_retention,
            )
            app.state.worker = worker
            add_admin_routes(app, cfg.data_dir)
            # joined to a cluster, realtime sessions go to runners of any worker (ours too)
            app.state.broker = LocalBroker(worker) if embedded else StoreBroker(store)
            tokens.configure(tokens.load_secret(cfg.data_dir))
            where = f"--store {cfg.store_url}" if cfg.store_url else f"--data-dir {cfg.data_dir}"
            await secure(app, store, cfg.security(), cfg.host, key, where)
            server = uvicorn_server(app, cfg.host, cfg.port, cfg.log_level)
            log.info(
                "openfal serving on http://%s:%d (store %s, files %s, public URL %s)",
                cfg.host,
                cfg.port,
                cfg.store,
                storage,
                cfg.public,
            )
            await server.serve()
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            await sender.stop()
            await deployer.stop()
            await worker.stop()
            await storage.close()
            await store.close()


def run(cfg: ServeConfig) -> None:
    setup_logging(cfg.log_level)
    run_async(serve(cfg))
