"""Waiting for the store: for a change of one request, or for queued work.

Public methods are final; backends add what they need through the hooks:
``_arm``/``_disarm`` around the reads that callers follow with a wait,
``_wait_change``/``_wait_work`` (the wait itself) and ``_notify``/``_notify_work``
(a change made by this process). The defaults wake waiters of this process at once;
backends shared between processes extend them (the timeout makes polling the fallback).
"""

from __future__ import annotations

import asyncio
from typing import Any


class Waiting:
    """In-process wake-ups, and the hooks backends extend."""

    def __init__(self) -> None:
        super().__init__()
        self._changed: dict[str, asyncio.Event] = {}
        self._work: asyncio.Event | None = None
        # request id -> its completed record (None: changed elsewhere, read it), for the
        # direct runs of this process: the waiter gets the record without reading it back
        self._done: dict[str, asyncio.Future[Any]] = {}

    async def wait_for_change(self, request_id: str, timeout: float) -> bool:
        """Return True when ``request_id`` may have changed, False after ``timeout``."""
        return await self._wait_change(request_id, timeout)

    async def wait_for_work(self, timeout: float) -> None:
        """Return when a request may have been queued, or after ``timeout``."""
        await self._wait_work(timeout)

    # ------------------------------------------------------------------ hooks

    def _arm(self, request_id: str) -> object | None:
        """Called before a read that the caller may follow with a wait; returns a token
        for :meth:`_disarm` (None: nothing to undo)."""
        return None

    def _disarm(self, request_id: str, token: object) -> None:
        """The read found the request gone or finished: nobody will wait on it."""

    async def _wait_change(self, request_id: str, timeout: float) -> bool:
        ev = self._changed.setdefault(request_id, asyncio.Event())
        try:
            await asyncio.wait_for(ev.wait(), timeout)
            return True
        except TimeoutError:
            return False
        finally:
            if self._changed.get(request_id) is ev and ev.is_set():
                del self._changed[request_id]

    async def _wait_work(self, timeout: float) -> None:
        if self._work is None:
            self._work = asyncio.Event()
        ev = self._work
        try:
            await asyncio.wait_for(ev.wait(), timeout)
        except TimeoutError:
            pass
        finally:
            if self._work is ev and ev.is_set():
                self._work = None

    def _notify(self, request_id: str) -> None:
        ev = self._changed.get(request_id)
        if ev is not None:
            ev.set()

    def _notify_work(self) -> None:
        if self._work is not None:
            self._work.set()

    def _expect_done(self, request_id: str) -> None:
        """A caller of this process will wait for the request to complete."""
        if request_id not in self._done:
            self._done[request_id] = asyncio.get_running_loop().create_future()

    def _completed(self, rec: Any) -> None:
        """The request completed in this process: hand its record to the waiter."""
        fut = self._done.pop(rec.id, None)
        if fut is not None and not fut.done():
            fut.set_result(rec)

    def _wake_done(self) -> None:
        """Something changed in another process: completion waiters read the store."""
        for fut in self._done.values():
            if not fut.done():
                fut.set_result(None)

    async def _await_done(self, fut: asyncio.Future[Any], timeout: float) -> None:
        await asyncio.wait({fut}, timeout=timeout)
