"""``openfal gateway``: the HTTP surfaces alone, on a store shared with workers elsewhere.

Any number of gateways can run behind a load balancer: they keep no state of their own.
What ``openfal serve`` keeps in its data dir is shared through the store instead: the
secret that signs upload URLs and the webhook signing key (so every gateway accepts the
URLs, and serves the JWKS of the key, that any other one uses). Each gateway also runs
the store's housekeeping (requeue expired leases, purge old results, drop dead runners)
and a webhook sender (senders share the outbox safely), so the cluster heals and
delivers as long as one gateway is up.

Configured with :class:`openfal.server.ServeConfig`: the worker-side fields (apps, leases)
are not used here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from openfal import toolkit
from openfal.cluster.apps import load_models
from openfal.cluster.common import (
    run_async,
    setup_logging,
    shared_store_url,
    sweep_storage,
    uvicorn_server,
)
from openfal.gateway import AppRegistry, GatewaySettings, create_app
from openfal.gateway.auth import announce_policy
from openfal.gateway.routes.files import Signer, UploadConfig
from openfal.gateway.webhooks import WebhookSettings
from openfal.server import ServeConfig
from openfal.storage import Storage
from openfal.store import Store
from openfal.store.housekeeping import housekeeping
from openfal.webhooks import SigningKey
from openfal.webhooks.sender import WebhookSender

log = logging.getLogger("openfal")


async def shared_signing_key(store: Store) -> SigningKey:
    """The webhook signing key every process sharing ``store`` uses (an Ed25519 seed)."""
    seed = await store.shared_secret("webhook-signing", 32)
    return SigningKey(Ed25519PrivateKey.from_private_bytes(seed))


async def gateway(cfg: ServeConfig, *, load_apps: bool = True) -> None:
    store = Store.from_url(
        shared_store_url(cfg.store, "gateway"),
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
    signing_key = await shared_signing_key(store)
    sender = WebhookSender(store, signing_key, cfg.sender())
    await sender.start()
    tasks = [
        asyncio.create_task(housekeeping(store)),
        asyncio.create_task(sweep_storage(storage, cfg.storage_sweep_interval)),
    ]
    try:
        registry = AppRegistry(store, loader=load_models if load_apps else None)
        app = create_app(
            store, registry, GatewaySettings(max_body_size=cfg.max_body_size), storage=storage
        )
        app.state.uploads = UploadConfig(
            signer=Signer(await store.shared_secret("upload-signing")),
            default_retention=cfg.upload_retention,
        )
        app.state.auth = cfg.auth()
        app.state.webhooks = WebhookSettings(keys=[signing_key], allow=tuple(cfg.webhook_allow))
        await announce_policy(store, app.state.auth, cfg.host, cfg.data_dir, cfg.store_url)
        log.info(
            "openfal gateway on http://%s:%d (store %s, files %s, public URL %s)",
            cfg.host,
            cfg.port,
            cfg.store,
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
        await sender.stop()
        await storage.close()
        await store.close()


def run_gateway(cfg: ServeConfig, *, load_apps: bool = True) -> None:
    setup_logging(cfg.log_level)
    run_async(gateway(cfg, load_apps=load_apps))
