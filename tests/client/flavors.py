"""The same client API four ways, so one test body runs against each.

``openfal-sync`` is the ``openfal.client`` module itself (its shared client, pointed by
``OPENFAL_URL``); ``openfal-async`` an ``openfal.client.AsyncClient``; ``fal_client-*`` the
official client from PyPI pointed with ``openfal.compat.use_server``. Async clients run on
one event loop per test behind a blocking facade.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable
from types import ModuleType
from typing import Any


class Blocking:
    """Calls ``target``'s coroutine methods to completion on ``loop``; handles and other
    objects with coroutine methods come back wrapped the same way."""

    def __init__(self, target: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._target = target
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if not callable(value):
            return value
        return self._blocking(value)

    def _blocking(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            out = fn(*args, **kwargs)
            if inspect.isasyncgen(out):
                return list(self._drain(out))
            if inspect.isawaitable(out):
                out = self._loop.run_until_complete(out)
            return _wrap(out, self._loop)

        return call

    def _drain(self, agen: Any) -> Any:
        while True:
            try:
                yield self._loop.run_until_complete(agen.__anext__())
            except StopAsyncIteration:
                return

    def __eq__(self, other: object) -> bool:
        inner = other._target if isinstance(other, Blocking) else other
        return bool(self._target == inner)

    def __hash__(self) -> int:
        return hash(self._target)


def _wrap(value: Any, loop: asyncio.AbstractEventLoop) -> Any:
    if hasattr(value, "request_id") and hasattr(value, "status_url"):
        return Blocking(value, loop)
    return value


class Flavor:
    """``client``: what the test calls; ``types``: the module with its status and error
    classes (``Queued``, ``InProgress``, ``Completed``, ``FalClientHTTPError``,
    ``FalClientTimeoutError``)."""

    def __init__(self, name: str, client: Any, types: ModuleType) -> None:
        self.name = name
        self.client = client
        self.types = types

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)
