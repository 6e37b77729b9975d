"""The store contract: every piece of shared state, one abstract class.

It is composed by concern, one module each, every one with public methods that own the
state changes and small ``_hooks`` that backends implement:

- :mod:`openfal.store.requests`: requests, the queue, leases, logs, events;
- :mod:`openfal.store.apps`: registered apps;
- :mod:`openfal.store.history`: pages of past requests, newest first;
- :mod:`openfal.store.auth`: API keys and rate limits;
- :mod:`openfal.store.outbox`: the webhook outbox;
- :mod:`openfal.store.runners`: workers, runner slots and realtime sessions;
- :mod:`openfal.store.waiting`: waiting for a change or for work.

Backends: :mod:`openfal.store.memory`, :mod:`openfal.store.sqlite`, :mod:`openfal.store.redis`.
The same contract test suite runs against each.
"""

from __future__ import annotations

import abc
from typing import Any

from openfal.store.apps import AppStore
from openfal.store.auth import AuthStore
from openfal.store.deploy import DeployStore
from openfal.store.history import HistoryStore
from openfal.store.requests import RequestStore
from openfal.store.runners import RunnerRegistry


class Store(RequestStore, AppStore, AuthStore, RunnerRegistry, DeployStore, HistoryStore, abc.ABC):
    """Shared state of the platform. Use :meth:`from_url` to get one."""

    def __init__(self, *, retention: float = 3600.0, max_attempts: int = 3) -> None:
        super().__init__()
        self.retention = retention
        self.max_attempts = max_attempts

    def _session_waiting(self, app_id: str) -> None:
        self._notify_work(app_id)

    # ------------------------------------------------------------------ factory

    @staticmethod
    def from_url(url: str, **kwargs: Any) -> Store:
        """``memory://``, ``sqlite:///path/to/db`` or ``redis://host:port/db``."""
        if url.startswith("memory://"):
            from openfal.store.memory import MemoryStore

            return MemoryStore(**kwargs)
        if url.startswith("sqlite://"):
            from openfal.store.sqlite import SQLiteStore

            # sqlite:///relative/path, sqlite:////absolute/path, sqlite:// = in memory
            return SQLiteStore(
                url.removeprefix("sqlite://").removeprefix("/") or ":memory:", **kwargs
            )
        if url.startswith(("redis://", "rediss://", "unix://")):
            try:
                from openfal.store.redis import RedisStore
            except ImportError as e:  # pragma: no cover - depends on the extra
                raise RuntimeError(
                    "the redis store needs the 'redis' extra: pip install 'openfal[redis]'"
                ) from e
            store: Store = RedisStore(url, **kwargs)
            return store
        raise ValueError(f"unknown store URL {url!r}: use memory://, sqlite:///PATH or redis://")

    async def open(self) -> None:
        """Create tables / connections. Idempotent."""

    async def close(self) -> None:
        """Release connections."""
