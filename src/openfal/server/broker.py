"""Realtime sessions on runners anywhere in the cluster: the store-backed ``RealtimeBroker``.

A gateway asks the store for a READY runner of the app with a free multiplexing slot
(:meth:`Store.open_session`) and relays the websocket to the runner's advertised URL. When
every runner is full, or none is up, the session waits in the store: workers count it as
demand and start a runner (within the app's cluster-wide limits), and the broker asks
again until one is free. The session is renewed while the websocket is open and closed
after it, so a gateway that dies frees its sessions within ``ttl`` seconds.

Slots are shared softly: workers learn about attached sessions on their next scaling
decision (a fraction of a second), and gateways see a runner's request count as of its
worker's last heartbeat, so a request and a session may both take the last slot of a
runner at the same moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator

from openfal.store import Store

log = logging.getLogger("openfal.gateway")

__all__ = ["StoreBroker"]


class StoreBroker:
    """Runners of any worker sharing ``store``, one multiplexing slot per session."""

    def __init__(
        self, store: Store, *, timeout: float = 600.0, ttl: float = 30.0, poll: float = 0.1
    ) -> None:
        self.store = store
        self.timeout = timeout  # how long a session may wait for a runner
        self.ttl = ttl
        self.poll = poll

    @contextlib.asynccontextmanager
    async def acquire(self, app_id: str) -> AsyncIterator[str]:
        """The base URL of a runner of ``app_id`` with a slot held for this session.

        Raises LookupError when no live worker serves the app, TimeoutError when no slot
        frees up within ``timeout`` seconds.
        """
        session_id = uuid.uuid4().hex
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        try:
            while (runner := await self.store.open_session(app_id, session_id, self.ttl)) is None:
                if not any(app_id in w.apps for w in await self.store.list_workers()):
                    raise LookupError(f"no worker serves app {app_id}")
                if loop.time() >= deadline:
                    raise TimeoutError(f"no runner of {app_id} was free within {self.timeout:g}s")
                await asyncio.sleep(self.poll)
            renew = asyncio.create_task(self._renew(session_id))
            try:
                yield runner.url
            finally:
                renew.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await renew
        finally:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.store.close_session(session_id))

    async def _renew(self, session_id: str) -> None:
        while True:
            await asyncio.sleep(self.ttl / 3)
            try:
                if not await self.store.renew_session(session_id, self.ttl):
                    log.warning("realtime session %s lost its runner", session_id)
                    return
            except Exception as e:  # the store may be restarting: the next renewal retries
                log.warning("renewing realtime session %s: %s", session_id, e)
