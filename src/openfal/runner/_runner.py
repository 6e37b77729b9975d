"""`Runner`: one App instance, its endpoints as coroutines, and the requests it is running."""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from openfal.runner._active import ActiveRequest, Registry
from openfal.runner._events import ResultEvent
from openfal.runner._invoke import AsyncCall, ensure_async, run_endpoint
from openfal.runner._stream import IterCall, ensure_async_iter
from openfal.sdk import App, Endpoint, collect_endpoints

__all__ = ["Runner"]

logger = logging.getLogger("openfal.runner")


class Runner:
    """Serves one instance of an App class: lifecycle hooks and request execution."""

    def __init__(self, cls: type[App]) -> None:
        self.cls = cls
        self.instance = cls()
        workers = max(32, 2 * int(cls.max_multiplexing))
        self.executor = ThreadPoolExecutor(workers, thread_name_prefix="openfal-app")
        found = collect_endpoints(cls)
        self.endpoints = {path: e for path, e in found.items() if not e.is_websocket}
        self.websockets = {path: e for path, e in found.items() if e.is_websocket}
        self.calls: dict[str, AsyncCall | IterCall] = {
            path: self.callable(e) for path, e in found.items() if e.input_model is not None
        }
        self.requests = Registry()

    def _async(self, method_name: str) -> AsyncCall:
        return ensure_async(getattr(self.instance, method_name), self.executor)

    def callable(self, found: Endpoint) -> AsyncCall | IterCall:
        """The endpoint's method as a coroutine function, or an async iterator for generators."""
        method = getattr(self.instance, found.method_name)
        if found.is_generator:
            return ensure_async_iter(method, self.executor)
        return ensure_async(method, self.executor)

    async def setup(self) -> None:
        """Run the app's setup()."""
        await self._async("setup")()

    async def teardown(self) -> None:
        """Run the app's teardown(), then let go of the thread pool."""
        try:
            await self._async("teardown")()
        finally:
            # Endpoints still stuck in sync code must not hold up the shutdown.
            self.executor.shutdown(wait=False, cancel_futures=True)

    async def health(self) -> dict[str, Any]:
        """The /health answer: status, hints, in-flight count and the app's own fields."""
        extra = await self._async("health")()
        hints = await self._async("provide_hints")()
        if not isinstance(extra, Mapping):
            raise TypeError(f"health() must return a dict, not {type(extra).__name__}")
        return {"status": "ok", "hints": list(hints), "in_flight": len(self.requests), **extra}

    def start(
        self, path: str, request_id: str, headers: Mapping[str, str], body: bytes, stream: bool
    ) -> tuple[ActiveRequest, asyncio.Task[ResultEvent]]:
        """Register a request and start running it in its own task and context."""
        found = self.endpoints[path]
        active = ActiveRequest(request_id, headers, stream)
        self.requests.add(active)
        coroutine = self._run(active, found, body)
        task = asyncio.create_task(coroutine, context=contextvars.copy_context())
        return active, task

    async def _run(self, active: ActiveRequest, found: Endpoint, body: bytes) -> ResultEvent:
        if found.is_async:
            # Set only once running: a task cancelled before its first step could not turn
            # the cancellation into a result. A sync endpoint's thread cannot be interrupted.
            active.task = asyncio.current_task()
        try:
            with active.activated():
                result = await self._call(active, found, body)
        finally:
            self.requests.remove(active)
        active.finish(result)
        return result

    async def _call(self, active: ActiveRequest, found: Endpoint, body: bytes) -> ResultEvent:
        try:
            call = self.calls[found.path]
            return await run_endpoint(call, found, body, active.context, active.emit)
        except Exception:  # a bug of ours must still end the stream with a result
            logger.exception("runner failed while handling /%s", found.path)
            return ResultEvent(500, {"detail": "Internal Server Error"})
