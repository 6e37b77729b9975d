"""In-process store: plain dicts, for tests and single-process experiments.

Everything runs on the event loop thread and no hook awaits, so each hook is atomic
without locks. Queues are lists kept sorted by ``(priority, seq, id)`` so that
claiming takes the head and ranking a request is a bisect.
"""

from __future__ import annotations

import bisect
import copy
import heapq
from typing import Any

from openfal.store.apps import AppRecord
from openfal.store.contract import Store
from openfal.store.memory.auth import MemoryAuth
from openfal.store.memory.deploy import MemoryDeploy
from openfal.store.memory.history import MemoryHistory
from openfal.store.memory.outbox import MemoryOutbox
from openfal.store.memory.runners import MemoryRunners
from openfal.store.requests import LogEntry, RequestRecord, RequestStatus, evolve

_QueueKey = tuple[int, int, str]


def _key(rec: RequestRecord) -> _QueueKey:
    return (rec.priority, rec.seq, rec.id)


def _copy_value(value: Any) -> Any:
    return copy.deepcopy(value) if isinstance(value, dict | list) else value


class MemoryStore(MemoryAuth, MemoryOutbox, MemoryRunners, MemoryDeploy, MemoryHistory, Store):
    """A :class:`Store` that lives in this process only (``memory://``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._requests: dict[str, RequestRecord] = {}
        self._queues: dict[str, list[_QueueKey]] = {}  # app_id -> sorted IN_QUEUE keys
        self._running: dict[str, set[str]] = {}  # app_id -> IN_PROGRESS ids
        self._logs: dict[str, list[LogEntry]] = {}
        self._events: dict[str, list[bytes]] = {}
        self._apps: dict[str, AppRecord] = {}
        self._seq = 0

    # ------------------------------------------------------------------ indexes

    def _index(self, rec: RequestRecord) -> None:
        if rec.status is RequestStatus.IN_QUEUE:
            bisect.insort(self._queues.setdefault(rec.app_id, []), _key(rec))
        elif rec.status is RequestStatus.IN_PROGRESS:
            self._running.setdefault(rec.app_id, set()).add(rec.id)

    def _unindex(self, rec: RequestRecord) -> None:
        if rec.status is RequestStatus.IN_QUEUE:
            queue = self._queues.get(rec.app_id)
            if queue is not None:
                key = _key(rec)
                i = bisect.bisect_left(queue, key)
                if i < len(queue) and queue[i] == key:
                    del queue[i]
                if not queue:
                    del self._queues[rec.app_id]
        elif rec.status is RequestStatus.IN_PROGRESS:
            running = self._running.get(rec.app_id)
            if running is not None:
                running.discard(rec.id)
                if not running:
                    del self._running[rec.app_id]

    def _apply(self, rec: RequestRecord, changes: dict[str, Any]) -> RequestRecord:
        new = evolve(rec, **{name: _copy_value(v) for name, v in changes.items()})
        if (new.status, new.app_id, new.priority, new.seq) != (
            rec.status,
            rec.app_id,
            rec.priority,
            rec.seq,
        ):
            self._unindex(rec)
            self._index(new)
        if new.status is RequestStatus.IN_QUEUE and rec.status is not RequestStatus.IN_QUEUE:
            self._events.pop(new.id, None)  # requeued: the next attempt streams afresh
        self._requests[new.id] = new
        return new

    # ------------------------------------------------------------------ requests

    async def _insert(self, rec: RequestRecord, *, minted: bool = False) -> RequestRecord:
        if rec.id in self._requests:
            raise ValueError(f"request {rec.id!r} already exists")
        self._seq += 1
        rec = evolve(rec, seq=self._seq, headers=dict(rec.headers))
        self._requests[rec.id] = rec
        self._index(rec)
        return rec

    async def _get(self, request_id: str) -> RequestRecord | None:
        return self._requests.get(request_id)

    async def _update(
        self,
        request_id: str,
        expect_status: set[RequestStatus],
        changes: dict[str, Any],
        *,
        worker_id: str | None = None,
        lease_before: float | None = None,
    ) -> RequestRecord | None:
        rec = self._requests.get(request_id)
        if rec is None or rec.status not in expect_status:
            return None
        if worker_id is not None and rec.worker_id != worker_id:
            return None
        if lease_before is not None and not (
            rec.lease_expires is not None and rec.lease_expires < lease_before
        ):
            return None
        return self._apply(rec, changes)

    async def _pop_next(self, app_ids: list[str], changes: dict[str, Any]) -> RequestRecord | None:
        heads = [queue[0] for app_id in set(app_ids) if (queue := self._queues.get(app_id))]
        if not heads:
            return None
        rec = self._requests[min(heads)[2]]
        return self._apply(rec, {**changes, "attempts": rec.attempts + 1})

    async def _queue_rank(self, rec: RequestRecord) -> int:
        queue = self._queues.get(rec.app_id)
        if not queue:
            return 0
        # "" sorts before every id: counts the keys strictly before (priority, seq)
        return bisect.bisect_left(queue, (rec.priority, rec.seq, ""))

    async def _count(self, app_id: str, status: RequestStatus) -> int:
        if status is RequestStatus.IN_QUEUE:
            return len(self._queues.get(app_id, ()))
        if status is RequestStatus.IN_PROGRESS:
            return len(self._running.get(app_id, ()))
        return sum(1 for r in self._requests.values() if r.app_id == app_id and r.status is status)

    async def _expired_leases(self, t: float) -> list[RequestRecord]:
        expired = []
        for ids in self._running.values():
            for request_id in ids:
                rec = self._requests[request_id]
                if rec.lease_expires is not None and rec.lease_expires < t:
                    expired.append(rec)
        expired.sort(key=lambda r: r.seq)
        return expired

    async def _list(
        self, app_id: str | None, status: RequestStatus | None, owner: str | None, limit: int
    ) -> list[RequestRecord]:
        matching = (
            r
            for r in self._requests.values()
            if (app_id is None or r.app_id == app_id)
            and (status is None or r.status is status)
            and (owner is None or r.owner == owner)
        )
        return heapq.nlargest(max(limit, 0), matching, key=lambda r: (r.created_at, r.seq))

    async def _delete_completed_before(self, t: float) -> int:
        old = [
            r.id
            for r in self._requests.values()
            if r.status is RequestStatus.COMPLETED
            and r.completed_at is not None
            and r.completed_at < t
        ]
        for request_id in old:
            del self._requests[request_id]
            self._logs.pop(request_id, None)
            self._events.pop(request_id, None)
        return len(old)

    # ------------------------------------------------------------------ logs and events

    async def _append_logs(self, request_id: str, entries: list[LogEntry]) -> None:
        self._logs.setdefault(request_id, []).extend(entries)

    async def _get_logs(self, request_id: str, since: int) -> list[LogEntry]:
        return list(self._logs.get(request_id, [])[max(since, 0) :])

    async def _append_event(self, request_id: str, data: bytes) -> None:
        self._events.setdefault(request_id, []).append(bytes(data))

    async def _get_events(self, request_id: str, since: int) -> list[bytes]:
        return list(self._events.get(request_id, [])[max(since, 0) :])

    # ------------------------------------------------------------------ apps

    async def _put_app(self, app: AppRecord) -> None:
        self._apps[app.app_id] = copy.deepcopy(app)

    async def _get_app(self, app_id: str) -> AppRecord | None:
        app = self._apps.get(app_id)
        return copy.deepcopy(app) if app is not None else None

    async def _list_apps(self) -> list[AppRecord]:
        return [copy.deepcopy(self._apps[k]) for k in sorted(self._apps)]

    async def _delete_app(self, app_id: str) -> bool:
        return self._apps.pop(app_id, None) is not None
