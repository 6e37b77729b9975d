"""Waiting for the store: for a change of one request, or for queued work.

Public methods are final; backends add what they need through the hooks:
``_arm``/``_disarm`` around the reads that callers follow with a wait,
``_wait_change``/``_wait_work`` (the wait itself) and ``_notify``/``_notify_work``
(a change made by this process). The defaults wake waiters of this process at once;
backends shared between processes extend them (the timeout makes polling the fallback).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any


class Waiting:
    """In-process wake-ups, and the hooks backends extend."""

    def __init__(self) -> None:
        super().__init__()
        self._changed: dict[str, asyncio.Event] = {}
        # app id (None: any app) -> set when a request of it may have been queued
        self._work: dict[str | None, asyncio.Event] = {}
        # request id -> its completed record (None: changed elsewhere, read it), for the
        # direct runs of this process: the waiter gets the record without reading it back
        self._done: dict[str, asyncio.Future[Any]] = {}

    async def wait_for_change(self, request_id: str, timeout: float) -> bool:
        """Return True when ``request_id`` may have changed, False after ``timeout``."""
        return await self._wait_change(request_id, timeout)

    async def wait_for_work(self, timeout: float, app_ids: Sequence[str] | None = None) -> None:
        """Return when a request (of one of ``app_ids``, when given) may have been
        queued, or after ``timeout``."""
        await self._wait_work(timeout, _work_key(app_ids))

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

    def _arm_work(self, key: str | None) -> asyncio.Event:
        """The event a wait for ``key``'s work waits on; armed before a read, it catches
        what is queued between the read and the wait."""
        ev = self._work.get(key)
        if ev is None:
            ev = self._work[key] = asyncio.Event()
        return ev

    async def _wait_work(self, timeout: float, key: str | None) -> None:
        ev = self._arm_work(key)
        try:
            await asyncio.wait_for(ev.wait(), timeout)
        except TimeoutError:
            pass
        finally:
            if self._work.get(key) is ev and ev.is_set():
                del self._work[key]

    def _notify(self, request_id: str) -> None:
        ev = self._changed.get(request_id)
        if ev is not None:
            ev.set()

    def _notify_work(self, app_id: str | None = None) -> None:
        """A request of ``app_id`` (None: of any app, or unknown) may have been queued."""
        if app_id is None:
            for ev in self._work.values():
                ev.set()
            return
        for key in (app_id, None):
            waiting = self._work.get(key)
            if waiting is not None:
                waiting.set()

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


def _work_key(app_ids: Sequence[str] | None) -> str | None:
    """Waits for one app wake only for it; for several (rare), for any."""
    return app_ids[0] if app_ids is not None and len(app_ids) == 1 else None
