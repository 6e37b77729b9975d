"""``RealtimeBroker``: how the gateway gets a runner of an app for one websocket session.

``openfal serve`` uses the worker in its own process (``openfal.worker.sessions.LocalBroker``);
a cluster gateway, and ``openfal serve --store redis://``, hand out runners of any machine
through the store instead (``openfal.server.broker.StoreBroker``). Either
way the gateway relays frames to ``<base URL>/<path>`` while the context is open, and the
runner's slot is given back when it closes.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol

__all__ = ["RealtimeBroker"]


class RealtimeBroker(Protocol):
    def acquire(self, app_id: str) -> AbstractAsyncContextManager[str]:
        """Hold a runner slot of ``app_id``; yields the runner's ``http://host:port`` base URL.

        Raises LookupError (the app is not served here), TimeoutError (no runner free in
        time) or ConnectionError (the app's runners cannot start).
        """
        ...
