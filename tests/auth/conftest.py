"""An in-process gateway (ASGI transport, memory store and local file storage) with keys.

No runner: tests play the worker through the store (claim, complete), as
tests/gateway does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from openfal.gateway import AppRegistry, GatewaySettings, create_app
from openfal.gateway.auth import AuthSettings
from openfal.gateway.webhooks import WebhookSettings
from openfal.sdk import describe, endpoint_models, load_app
from openfal.storage import Storage
from openfal.store import AppRecord, KeyScope, RequestRecord, Store
from tests.e2e.conftest import serve  # noqa: F401 - real `openfal serve` processes
from tests.e2e.harness import app_ref
from tests.webhooks.conftest import receiver  # noqa: F401 - a real HTTP receiver

ECHO = "openfal/echo"


@dataclass
class Gateway:
    client: httpx.AsyncClient
    store: Store
    app: Any
    keys: dict[str, str] = field(default_factory=dict)  # name -> "id:secret"

    async def key(
        self, name: str, user: str, scope: KeyScope = KeyScope.API, **limits: Any
    ) -> dict[str, str]:
        """Create a key; returns the headers that use it."""
        key, secret = await self.store.create_key(user, scope, **limits)
        self.keys[name] = f"{key.id}:{secret}"
        return self.auth(name)

    def auth(self, name: str) -> dict[str, str]:
        return {"authorization": f"Key {self.keys[name]}"}

    async def submit(self, headers: dict[str, str], app: str = ECHO, **kw: Any) -> dict[str, Any]:
        r = await self.client.post(f"/queue/{app}", json={"message": "hi"}, headers=headers, **kw)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    async def finish(self, request_id: str, body: bytes = b'{"message": "hi"}') -> RequestRecord:
        """Play the worker: complete the request with ``body``."""
        done = await self.store.complete(request_id, status_code=200, body=body)
        assert done is not None
        return done


GatewayFactory = Callable[..., Awaitable[Gateway]]


async def register(store: Store, registry: AppRegistry, name: str) -> None:
    cls = load_app(app_ref(name))
    info = describe(cls)
    record = AppRecord(
        app_id=info["app_id"],
        source=app_ref(name),
        settings=info["settings"],
        endpoints=info["endpoints"],
    )
    await store.register_app(record)
    registry.add_local(record, endpoint_models(cls))


@pytest.fixture
async def make_gateway(tmp_path: Path) -> AsyncIterator[GatewayFactory]:
    """Build gateways; ``store`` shares one between several (as two processes would)."""
    opened: list[tuple[httpx.AsyncClient, Store, Storage]] = []

    async def make(
        *,
        store: Store | None = None,
        auth: AuthSettings | None = None,
        webhooks: WebhookSettings | None = None,
        settings: GatewaySettings | None = None,
    ) -> Gateway:
        own_store = store is None
        if store is None:
            store = Store.from_url("memory://")
            await store.open()
        registry = AppRegistry(store)
        for name in ("echo", "errors"):
            await register(store, registry, name)
        storage = Storage.from_url(f"file://{tmp_path / 'files'}", fsync=False)
        await storage.open()
        app = create_app(store, registry, settings, storage=storage)
        app.state.auth = auth or AuthSettings()
        app.state.webhooks = webhooks or WebhookSettings(allow=("127.0.0.1",))
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://testserver",
        )
        opened.append((client, store if own_store else None, storage))  # type: ignore[arg-type]
        return Gateway(client, store, app)

    yield make
    for client, store, storage in reversed(opened):
        await client.aclose()
        await storage.close()
        if store is not None:
            await store.close()


@pytest.fixture
async def gw(make_gateway: GatewayFactory) -> Gateway:
    return await make_gateway()
