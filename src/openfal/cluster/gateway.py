"""``openfal gateway``: the HTTP surfaces alone, on a store shared with workers elsewhere.

Any number of gateways can run behind a load balancer: they keep no state of their own.
What ``openfal serve`` keeps in its data dir is shared through the store instead: the
secret that signs upload URLs and the webhook signing key (so every gateway accepts the
URLs, and serves the JWKS of the key, that any other one uses). Each gateway also runs
the store's housekeeping (requeue expired leases, purge old results, drop dead runners)
and a webhook sender, so the cluster heals as long as one gateway or worker is up.
Realtime websockets go to runners anywhere in the cluster (:class:`StoreBroker`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from openfal import toolkit
from openfal.cluster.apps import load_models
from openfal.cluster.broker import StoreBroker
from openfal.cluster.common import (
    run_async,
    setup_logging,
    shared_store_url,
    sweep_storage,
    uvicorn_server,
)
from openfal.deploy.wiring import add_admin_routes
from openfal.gateway import AppRegistry, GatewaySettings, create_app, tokens
from openfal.gateway.routes.files import Signer, UploadConfig
from openfal.security import SecurityConfig, secure, signing_key, start_sender
from openfal.storage import Storage
from openfal.store import Store
from openfal.store.housekeeping import housekeeping
from openfal.webhooks import SigningKey

log = logging.getLogger("openfal")


@dataclass
class GatewayConfig:
    store_url: str
    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path(".openfal")  # local file storage when --storage is not given
    # s3://bucket/prefix (shared by every gateway) or file:///shared/folder
    storage_url: str | None = field(default_factory=lambda: os.environ.get("OPENFAL_STORAGE_URL"))
    load_apps: bool = True  # validate input with the app's own models when its code is here
    retention: float = 3600.0
    max_attempts: int = 3
    max_body_size: int = 64 * 1024 * 1024
    max_upload_size: int = field(
        default_factory=lambda: int(os.environ.get("OPENFAL_MAX_UPLOAD_SIZE", 1024**3))
    )
    upload_retention: float = 7 * 24 * 3600.0
    storage_sweep_interval: float = 300.0
    housekeeping_interval: float = 1.0
    log_level: str = "info"
    security: SecurityConfig = field(default_factory=SecurityConfig)  # keys, limits, webhooks
    # the base URL clients reach the gateways on (the load balancer), for file URLs
    public_url: str | None = None  # else $OPENFAL_PUBLIC_URL, else http://host:port

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


async def gateway(cfg: GatewayConfig) -> None:
    store = Store.from_url(
        shared_store_url(cfg.store_url, "gateway"),
        retention=cfg.retention,
        max_attempts=cfg.max_attempts,
    )
    await store.open()
    # the gateway's input checks know which file URLs are this platform's own
    toolkit.configure(
        storage_url=cfg.storage, public_url=cfg.public, file_retention=cfg.upload_retention
    )
    storage = Storage.from_url(cfg.storage, max_size=cfg.max_upload_size)
    await storage.open()
    tasks = [
        asyncio.create_task(housekeeping(store, cfg.housekeeping_interval)),
        asyncio.create_task(sweep_storage(storage, cfg.storage_sweep_interval)),
    ]
    try:
        registry = AppRegistry(store, loader=load_models if cfg.load_apps else None)
        app = create_app(
            store, registry, GatewaySettings(max_body_size=cfg.max_body_size), storage=storage
        )
        # every gateway must accept the upload URLs any other one signed
        app.state.uploads = UploadConfig(
            signer=Signer(await store.shared_secret("upload-signing")),
            default_retention=cfg.upload_retention,
        )
        # realtime: runners of any worker; tokens minted by one gateway verify on all
        app.state.broker = StoreBroker(store)
        add_admin_routes(app, None)  # secrets: the cluster's OPENFAL_SECRETS_KEY
        tokens.configure(
            os.environ.get(tokens.SECRET_ENV) or await store.shared_secret("token-signing")
        )
        key = await signing_key(store, None)  # the one every gateway and worker shares
        await secure(app, store, cfg.security, cfg.host, key, f"--store {cfg.store_url}")
        tasks.append(asyncio.create_task(_send_webhooks(store, cfg.security, key)))
        log.info(
            "openfal gateway on http://%s:%d (store %s, files %s, public URL %s)",
            cfg.host,
            cfg.port,
            cfg.store_url,
            storage,
            cfg.public,
        )
        await uvicorn_server(app, cfg.host, cfg.port, cfg.log_level).serve()
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await storage.close()
        await store.close()


async def _send_webhooks(store: Store, cfg: SecurityConfig, key: SigningKey) -> None:
    """A webhook sender for the life of the task (each webhook goes to one sender)."""
    sender = await start_sender(store, cfg, key)
    try:
        await asyncio.Event().wait()
    finally:
        await sender.stop()


def run_gateway(cfg: GatewayConfig) -> None:
    setup_logging(cfg.log_level)
    run_async(gateway(cfg))
