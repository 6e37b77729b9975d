"""``build_gateway``: the gateway ASGI app from the settings and what it needs; and
``openfal gateway``, the HTTP surfaces alone on a store shared with workers elsewhere.

Any number of gateways can run behind a load balancer: they keep no state of their own.
What ``openfal serve`` keeps in its data dir is shared through the store instead (see
:mod:`openfal.server.secrets`). Each gateway also runs the store's housekeeping (requeue
expired leases, purge old results, drop dead runners) and a webhook sender, so the
cluster heals as long as one gateway or worker is up. Realtime websockets go to runners
anywhere in the cluster (:class:`~openfal.server.broker.StoreBroker`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from starlette.applications import Starlette

from openfal import toolkit
from openfal.deploy.wiring import add_admin_routes
from openfal.gateway import AppRegistry, GatewaySettings, create_app, tokens
from openfal.gateway.auth import announce_policy
from openfal.gateway.broker import RealtimeBroker
from openfal.gateway.routes.files import Signer, UploadConfig
from openfal.server.apps import load_models
from openfal.server.broker import StoreBroker
from openfal.server.runtime import (
    run_async,
    settle_gc,
    setup_logging,
    sweep_storage,
    uvicorn_server,
)
from openfal.server.secrets import ServerSecrets, load_secrets
from openfal.server.security import auth_settings, start_sender, webhook_settings
from openfal.server.settings import Settings
from openfal.storage import Storage
from openfal.store import Store
from openfal.store.housekeeping import housekeeping

log = logging.getLogger("openfal")

__all__ = ["build_gateway", "gateway_main", "open_services", "run_gateway", "tasks"]


def build_gateway(
    settings: Settings,
    store: Store,
    storage: Storage,
    secrets: ServerSecrets,
    *,
    registry: AppRegistry,
    broker: RealtimeBroker,
) -> Starlette:
    """The gateway app, every part of its state set here."""
    # the gateway's input checks know which file URLs are this platform's own
    toolkit.configure(
        storage_url=settings.storage,
        public_url=settings.public,
        file_retention=settings.upload_retention,
    )
    tokens.configure(secrets.token)
    return create_app(
        store,
        registry,
        GatewaySettings(max_body_size=settings.max_body_size),
        storage=storage,
        broker=broker,
        uploads=UploadConfig(
            signer=Signer(secrets.upload), default_retention=settings.upload_retention
        ),
        auth=auth_settings(settings),
        webhooks=webhook_settings(settings, secrets.webhook),
    )


@contextlib.asynccontextmanager
async def open_services(settings: Settings, store_url: str) -> AsyncIterator[tuple[Store, Storage]]:
    """The store at ``store_url`` and the file storage, open for the block."""
    store = Store.from_url(
        store_url, retention=settings.retention, max_attempts=settings.max_attempts
    )
    await store.open()
    storage = Storage.from_url(settings.storage, max_size=settings.max_upload_size)
    try:
        await storage.open()
        yield store, storage
    finally:
        await storage.close()
        await store.close()


@contextlib.asynccontextmanager
async def tasks(*coroutines: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    """Run ``coroutines`` as background tasks for the block, cancelled after it."""
    running = [asyncio.create_task(c) for c in coroutines]
    try:
        yield
    finally:
        for task in running:
            task.cancel()
        for task in running:
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def send_webhooks(
    store: Store, settings: Settings, secrets: ServerSecrets, *, recover_leases: bool = False
) -> None:
    """A webhook sender for the life of the task (each webhook goes to one sender)."""
    sender = await start_sender(store, settings, secrets.webhook, recover_leases=recover_leases)
    try:
        await asyncio.Event().wait()
    finally:
        await sender.stop()


async def announce(settings: Settings, store: Store, app: Starlette, where: str) -> None:
    """Say once who may call, and how to make the first key (``where``: its store option)."""
    await announce_policy(store, app.state.auth, settings.host, where)


async def gateway_main(settings: Settings) -> None:
    store_url = settings.shared_store("gateway")
    async with open_services(settings, store_url) as (store, storage):
        secrets = await load_secrets(settings, store, shared=True)
        registry = AppRegistry(store, loader=load_models if settings.load_apps else None)
        app = build_gateway(
            settings, store, storage, secrets, registry=registry, broker=StoreBroker(store)
        )
        add_admin_routes(app, None)  # secrets: the cluster's OPENFAL_SECRETS_KEY
        await announce(settings, store, app, f"--store {store_url}")
        async with tasks(
            housekeeping(store, settings.housekeeping_every),
            sweep_storage(storage, settings.storage_sweep_interval),
            send_webhooks(store, settings, secrets),
        ):
            log.info(
                "openfal gateway on http://%s:%d (store %s, files %s, public URL %s)",
                settings.host,
                settings.port,
                store_url,
                storage,
                settings.public,
            )
            settle_gc()
            await uvicorn_server(app, settings.host, settings.port, settings.log_level).serve()


def run_gateway(settings: Settings) -> None:
    setup_logging(settings.log_level, settings.log_format)
    run_async(gateway_main(settings))
