"""``openfal_store_operation_seconds``: time the store's public operations.

:func:`instrument` wraps the listed methods of one store instance (the class is left
alone), so every backend is measured the same way without a line in the store code.
Claims are timed per attempt (``_claim_once``), not while a worker waits for work.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

from openfal.metrics import STORE_TIME
from openfal.store import Store

OPERATIONS = (
    "enqueue",
    "get",
    "_claim_once",
    "renew_lease",
    "set_progress",
    "append_logs",
    "get_logs",
    "publish_event",
    "complete",
    "fail",
    "cancel",
    "requeue",
    "queue_position",
    "queue_depth",
    "history",
    "authenticate",
)


def _timed(name: str, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    observe = STORE_TIME.labels(name.lstrip("_").removesuffix("_once")).observe

    @functools.wraps(fn)
    async def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await fn(*args, **kwargs)
        finally:
            observe(time.perf_counter() - started)

    return timed


def instrument(store: Store) -> Store:
    """Time ``store``'s operations from now on (once; later calls change nothing)."""
    if getattr(store, "_openfal_timed", False):
        return store
    for name in OPERATIONS:
        fn = getattr(store, name, None)
        if fn is not None:
            setattr(store, name, _timed(name, fn))
    store._openfal_timed = True  # type: ignore[attr-defined]
    return store
