"""Realtime sessions on this worker's runners: the in-process ``RealtimeBroker``.

The gateway asks a broker for "a runner of app X" for the length of one websocket session;
this one answers from the worker in the same process (``openfal serve``), starting a runner
when none is free and holding one of its ``max_multiplexing`` slots until the session ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from openfal.worker.worker import Worker

__all__ = ["LocalBroker"]


class LocalBroker:
    """Runners of the apps served by ``worker``, one slot per session."""

    def __init__(self, worker: Worker, timeout: float | None = None) -> None:
        self.worker = worker
        self.timeout = timeout  # default: the app's startup_timeout

    @contextlib.asynccontextmanager
    async def acquire(self, app_id: str) -> AsyncIterator[str]:
        """The base URL (``http://127.0.0.1:PORT``) of a runner of ``app_id``, held meanwhile.

        Raises LookupError if this worker does not serve the app, TimeoutError if no runner
        is free in time, ConnectionError if the app's runners fail to start.
        """
        pool = self.worker.pools.get(app_id)
        if pool is None:
            raise LookupError(f"app {app_id} is not served by worker {self.worker.id}")
        timeout = self.timeout if self.timeout is not None else pool.scaling.startup_timeout
        async with pool.session(timeout) as runner:
            yield runner.url
