"""The requests part of the store contract: records, the queue and the state machine.

Public methods own the request state machine (status, timestamps, attempts, leases);
backends implement the small ``_hooks`` below. Every hook that changes a record is a
compare-and-set so that two gateways or workers can never both win a transition.

State machine::

    IN_QUEUE ──claim──▶ IN_PROGRESS ──complete──▶ COMPLETED
       ▲  │                 │
       │  └──cancel─────────┼─────────────────────▶ COMPLETED (client_cancelled)
       └───requeue/expire───┘ (attempts < max_attempts, else COMPLETED with an error)
"""

from __future__ import annotations

import abc
import json
import logging
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from openfal.metrics import request_finished, request_started
from openfal.store.clock import now
from openfal.store.handoff import Handoff, Taker
from openfal.store.outbox import OutboxStore
from openfal.store.records import (  # the record types, here too for their users
    ACTIVE_STATUSES as ACTIVE_STATUSES,
)
from openfal.store.records import (
    JSON_FIELDS as JSON_FIELDS,
)
from openfal.store.records import (
    CancelOutcome as CancelOutcome,
)
from openfal.store.records import (
    LogEntry as LogEntry,
)
from openfal.store.records import (
    Priority as Priority,
)
from openfal.store.records import (
    RequestRecord as RequestRecord,
)
from openfal.store.records import (
    RequestStatus as RequestStatus,
)
from openfal.store.records import (
    evolve as evolve,
)
from openfal.store.records import (
    record_to_row as record_to_row,
)
from openfal.store.records import (
    row_to_record as row_to_record,
)
from openfal.store.waiting import Waiting

log = logging.getLogger(__name__)


class RequestStore(Waiting, Handoff, OutboxStore, abc.ABC):
    """Requests: the queue, leases, logs, events and the state machine."""

    retention: float
    max_attempts: int

    # ------------------------------------------------------------------ requests

    async def enqueue(
        self,
        app_id: str,
        path: str,
        input: bytes,
        *,
        priority: int = Priority.NORMAL,
        mode: str = "queue",
        owner: str | None = None,
        start_timeout: float | None = None,
        webhook_url: str | None = None,
        hint: str | None = None,
        headers: dict[str, str] | None = None,
        request_id: str | None = None,
        minted: bool = False,
    ) -> RequestRecord:
        """Store a new request (``request_id``: its id, else a new one; ``minted``: the
        caller took that id from :func:`openfal.gateway.ids.new_request_id` just now, so no
        other request holds it and a store may skip looking)."""
        t = now()
        rec = RequestRecord(
            id=request_id or str(uuid.uuid4()),
            app_id=app_id,
            path=path.strip("/"),
            input=input,
            priority=int(priority),
            mode=mode,
            owner=owner,
            created_at=t,
            start_deadline=t + start_timeout if start_timeout else None,
            webhook_url=webhook_url,
            hint=hint,
            headers=dict(headers or {}),
        )
        if webhook_url:  # first: once the request exists, its webhook must too
            await self.add_webhook(rec.id, webhook_url, owner)
        expected = mode == "run" and rec.id not in self._done
        if expected:  # before the insert: it may complete before enqueue returns
            self._expect_done(rec.id)
        # an idle dispatcher of this process takes it: stored claimed, handed over in memory
        handoff = self._reserve(app_id, hint)
        if handoff is not None:
            rec = _claimed(rec, handoff[0], t)
        try:
            rec = await self._insert(rec, minted=minted or request_id is None)
        except BaseException:
            if handoff is not None:
                handoff[0].release(handoff[1])
            if expected:
                self._done.pop(rec.id, None)
            if webhook_url:  # not stored after all (a duplicate id): neither is its webhook
                await self._delete_webhook(rec.id)
            raise
        self._notify(rec.id)
        if handoff is not None:
            request_started(rec)
            handoff[0].take(rec, handoff[1])
        else:
            self._notify_work(rec.app_id)
        return rec

    async def get(self, request_id: str, *, may_lag: bool = False) -> RequestRecord | None:
        """The request's record. ``may_lag``: a copy this process holds may answer, one
        that a change made in another process may not have reached yet (its announcement
        is on the way, and a :meth:`wait_for_change` that follows sees it): for status
        reads, never to decide that a request is not done."""
        if may_lag:
            held = self._held(request_id)
            if held is not None:
                return held
        token = self._arm(request_id)
        rec = await self._get(request_id)
        if token is not None and (rec is None or rec.is_done):
            self._disarm(request_id, token)
        return rec

    async def wait_done(self, request_id: str, timeout: float) -> RequestRecord | None:
        """The request's record once it completed; None while it is still active after
        ``timeout`` seconds. Raises LookupError when the request does not exist.

        A direct run completed by this process wakes its waiter with the record at once
        (no read); otherwise this waits for a change and reads the request.
        """
        fut = self._done.get(request_id)
        if fut is None:
            return await self._poll_done(request_id, timeout)
        if not fut.done():
            await self._await_done(fut, timeout)
            if not fut.done():
                return None
        if self._done.get(request_id) is fut:
            del self._done[request_id]
        rec: RequestRecord | None = fut.result()
        if rec is not None:
            return rec
        # changed by another process: read it, and wait on a fresh future if still active
        self._expect_done(request_id)
        return await self._read_done(request_id)

    async def _poll_done(self, request_id: str, timeout: float) -> RequestRecord | None:
        done = await self._read_done(request_id)
        if done is not None:
            return done
        await self.wait_for_change(request_id, timeout)
        return await self._read_done(request_id)

    async def _read_done(self, request_id: str) -> RequestRecord | None:
        rec = await self.get(request_id)
        if rec is None:
            self._done.pop(request_id, None)
            raise LookupError(f"request {request_id} not found")
        if rec.is_done:
            self._done.pop(request_id, None)
            return rec
        return None

    async def queue_position(self, rec: RequestRecord) -> int:
        """Number of requests of the same app that will be claimed before ``rec``."""
        if rec.status is not RequestStatus.IN_QUEUE:
            return 0
        return await self._queue_rank(rec)

    async def claim(
        self,
        app_ids: Sequence[str],
        worker_id: str,
        *,
        lease_ttl: float = 30.0,
        timeout: float = 0.0,
    ) -> RequestRecord | None:
        """Take the next queued request of one of ``app_ids`` (priority, then FIFO).

        Waits up to ``timeout`` seconds for one. Requests whose start deadline has
        passed are completed with a 504 user timeout instead of being returned.
        """
        loop_deadline = now() + timeout
        while True:
            recs = await self._claim_once(app_ids, worker_id, lease_ttl, 1)
            if recs:
                return recs[0]
            remaining = loop_deadline - now()
            if remaining <= 0:
                return None
            await self.wait_for_work(min(remaining, 1.0), app_ids)

    async def claim_many(
        self, app_ids: Sequence[str], worker_id: str, limit: int, *, lease_ttl: float = 30.0
    ) -> list[RequestRecord]:
        """Take up to ``limit`` queued requests at once, in claim order (one write on
        SQLite), without waiting: a dispatcher with several free slots drains its queue
        in one step instead of one claim per request."""
        return await self._claim_once(app_ids, worker_id, lease_ttl, max(1, limit))

    async def _claim_once(
        self, app_ids: Sequence[str], worker_id: str, lease_ttl: float, limit: int
    ) -> list[RequestRecord]:
        while True:
            t = now()
            recs = await self._pop_many(
                list(app_ids),
                {
                    "status": RequestStatus.IN_PROGRESS,
                    "worker_id": worker_id,
                    "lease_expires": t + lease_ttl,
                    "started_at": t,
                },
                limit,
            )
            if not recs:
                return []
            taken = []
            for rec in recs:
                if rec.start_deadline is not None and rec.start_deadline < t:
                    await self.fail(
                        rec.id,
                        504,
                        "Request was not started before its start timeout",
                        "request_timeout",
                        headers={"x-fal-request-timeout-type": "user"},
                    )
                    continue
                request_started(rec)
                self._notify(rec.id)
                taken.append(rec)
            if taken:
                return taken
            # every one had timed out: look again

    async def renew_lease(self, request_id: str, worker_id: str, lease_ttl: float = 30.0) -> bool:
        """Extend the lease. False when the worker no longer owns the request."""
        rec = await self._update(
            request_id,
            {RequestStatus.IN_PROGRESS},
            {"lease_expires": now() + lease_ttl},
            worker_id=worker_id,
        )
        return rec is not None

    async def set_progress(self, request_id: str, progress: dict[str, Any]) -> None:
        if await self._update(request_id, {RequestStatus.IN_PROGRESS}, {"progress": progress}):
            self._notify(request_id)

    async def append_logs(self, request_id: str, entries: Iterable[LogEntry]) -> None:
        entries = list(entries)
        if entries:
            await self._append_logs(request_id, entries)
            self._notify(request_id)

    async def get_logs(self, request_id: str, since: int = 0) -> list[LogEntry]:
        """Log entries from index ``since`` on."""
        self._arm(request_id)
        return await self._get_logs(request_id, since)

    async def publish_event(self, request_id: str, data: bytes) -> None:
        """A partial output of a streaming request (kept in order on the request)."""
        await self._append_event(request_id, data)
        self._notify(request_id)

    async def get_events(self, request_id: str, since: int = 0) -> list[bytes]:
        self._arm(request_id)
        return await self._get_events(request_id, since)

    async def complete(
        self,
        request_id: str,
        *,
        status_code: int,
        body: bytes,
        headers: dict[str, str] | None = None,
        metrics: dict[str, Any] | None = None,
        error: str | None = None,
        error_type: str | None = None,
        worker_id: str | None = None,
    ) -> RequestRecord | None:
        """Finish a request. None if it was already completed (or not ours)."""
        return await self._finish(
            request_id,
            status_code=status_code,
            body=body,
            headers=headers or {},
            metrics=metrics or {},
            error=error,
            error_type=error_type,
            worker_id=worker_id,
        )

    async def fail(
        self,
        request_id: str,
        status_code: int,
        detail: str,
        error_type: str,
        *,
        headers: dict[str, str] | None = None,
        worker_id: str | None = None,
        expect: RequestStatus | None = None,
        lease_before: float | None = None,
    ) -> RequestRecord | None:
        """Finish a request with a platform error (``{"detail", "error_type"}``);
        ``worker_id``, ``expect`` and ``lease_before`` as for :meth:`_finish`."""
        return await self._finish(
            request_id,
            status_code=status_code,
            body=_error_body(detail, error_type),
            headers=headers or {},
            error=detail,
            error_type=error_type,
            worker_id=worker_id,
            expect=expect,
            lease_before=lease_before,
        )

    async def cancel(self, request_id: str) -> CancelOutcome:
        rec = await self._get(request_id)
        if rec is None:
            return CancelOutcome.NOT_FOUND
        if rec.is_done:
            return CancelOutcome.ALREADY_COMPLETED
        if rec.status is RequestStatus.IN_QUEUE:
            done = await self.fail(
                rec.id,
                499,
                "Request was cancelled",
                "client_cancelled",
                expect=RequestStatus.IN_QUEUE,
            )
            if done is not None:
                return CancelOutcome.CANCELLED
            return await self.cancel(request_id)  # it moved on; try again
        updated = await self._update(
            request_id, {RequestStatus.IN_PROGRESS}, {"cancel_requested": True}
        )
        if updated is None:
            return await self.cancel(request_id)
        self._notify(request_id)
        return CancelOutcome.REQUESTED

    async def requeue(
        self,
        request_id: str,
        worker_id: str | None,
        reason: str,
        error_type: str,
        *,
        refund_attempt: bool = False,
        lease_before: float | None = None,
    ) -> RequestRecord | None:
        """Put a request whose runner died back in the queue, or fail it after max_attempts.

        A requeued request keeps its place (priority and sequence), so it runs next, and
        loses the events (partial outputs) of the attempt that died; its logs stay.
        ``refund_attempt`` gives the attempt back (the worker stopped, the request did
        nothing wrong). With ``lease_before``, nothing happens unless the lease still
        expires before that time when the change is made (a renewal wins the race).
        """
        rec = await self._get(request_id)
        if rec is None or rec.status is not RequestStatus.IN_PROGRESS:
            return None
        if worker_id is not None and rec.worker_id != worker_id:
            return None
        # an expired lease is taken from its worker only while it still expires (a CAS)
        cas_worker = rec.worker_id if lease_before is not None else None
        if rec.cancel_requested:
            return await self.fail(
                rec.id,
                499,
                "Request was cancelled",
                "client_cancelled",
                worker_id=cas_worker,
                lease_before=lease_before,
            )
        if rec.attempts >= self.max_attempts and not refund_attempt:
            detail = f"{reason} (gave up after {rec.attempts} attempts)"
            return await self.fail(
                rec.id, 503, detail, error_type, worker_id=cas_worker, lease_before=lease_before
            )
        updated = await self._update(
            request_id,
            {RequestStatus.IN_PROGRESS},
            {
                "status": RequestStatus.IN_QUEUE,
                "worker_id": None,
                "lease_expires": None,
                "started_at": None,
                "progress": None,
                "attempts": rec.attempts - 1 if refund_attempt else rec.attempts,
            },
            worker_id=rec.worker_id,
            lease_before=lease_before,
        )
        if updated is not None:
            self._notify(request_id)
            self._notify_work(updated.app_id)
        return updated

    async def requeue_expired(self, before: float | None = None) -> list[str]:
        """Requeue (or fail) every IN_PROGRESS request whose lease expired before
        ``before`` (default: now). ``before=inf`` takes every running request.

        Safe to run in every process at once: each change is a compare-and-set that
        also checks the lease is still expired, so a worker renewing late keeps its
        request and two housekeepers never both requeue one.
        """
        t = now() if before is None else before
        ids = []
        for rec in await self._expired_leases(t):
            if await self.requeue(
                rec.id, rec.worker_id, "Runner lease expired", "runner_disconnected", lease_before=t
            ):
                ids.append(rec.id)
        return ids

    async def queue_depth(self, app_id: str) -> int:
        return await self._count(app_id, RequestStatus.IN_QUEUE)

    async def in_progress(self, app_id: str) -> int:
        return await self._count(app_id, RequestStatus.IN_PROGRESS)

    async def list_requests(
        self,
        *,
        app_id: str | None = None,
        status: RequestStatus | None = None,
        owner: str | None = None,
        limit: int = 100,
    ) -> list[RequestRecord]:
        """Newest first."""
        return await self._list(app_id, status, owner, limit)

    async def purge_completed(self) -> int:
        """Delete completed requests (and finished webhooks) older than ``retention``;
        returns how many requests."""
        before = now() - self.retention
        await self.purge_webhooks(before)
        return await self._delete_completed_before(before)

    # ------------------------------------------------------------------ internals

    async def _finish(
        self,
        request_id: str,
        *,
        status_code: int,
        body: bytes,
        headers: dict[str, str],
        metrics: dict[str, Any] | None = None,
        error: str | None = None,
        error_type: str | None = None,
        worker_id: str | None = None,
        expect: RequestStatus | None = None,
        lease_before: float | None = None,
    ) -> RequestRecord | None:
        changes: dict[str, Any] = {
            "status": RequestStatus.COMPLETED,
            "completed_at": now(),
            "status_code": status_code,
            "result": body,
            "result_headers": headers,
            "metrics": metrics or {},
            "error": error,
            "error_type": error_type,
            "lease_expires": None,
        }
        expected = {expect} if expect else set(ACTIVE_STATUSES)
        done = await self._update(
            request_id, expected, changes, worker_id=worker_id, lease_before=lease_before
        )
        if done is not None:
            request_finished(done)
            self._notify(request_id)
            self._completed(done)
            if done.webhook_url:
                try:
                    await self.webhook_ready(done.id)
                except Exception:  # promote_webhooks catches up later
                    log.exception("marking the webhook of %s due failed", done.id)
        return done

    # ------------------------------------------------------------------ hooks

    @abc.abstractmethod
    async def _insert(self, rec: RequestRecord, *, minted: bool = False) -> RequestRecord:
        """Store a new request, assigning ``seq`` (monotonic); return the stored record.
        ValueError when its id is another request's (``minted``: it cannot be)."""

    @abc.abstractmethod
    async def _get(self, request_id: str) -> RequestRecord | None: ...

    def _held(self, request_id: str) -> RequestRecord | None:
        """A copy of the record this process holds and keeps current from the changes
        announced to it (see :meth:`get`); None where there is none (a store whose reads
        are local and cheap has none)."""
        return None

    @abc.abstractmethod
    async def _update(
        self,
        request_id: str,
        expect_status: set[RequestStatus],
        changes: dict[str, Any],
        *,
        worker_id: str | None = None,
        lease_before: float | None = None,
    ) -> RequestRecord | None:
        """Atomically apply ``changes`` if the status is in ``expect_status`` (and the
        lease holder is ``worker_id``, and the lease expires before ``lease_before``,
        when given). Return the new record, or None.

        A change back to IN_QUEUE (a requeue) also drops the request's events in the same
        step: the next attempt's stream starts afresh."""

    @abc.abstractmethod
    async def _pop_next(self, app_ids: list[str], changes: dict[str, Any]) -> RequestRecord | None:
        """Atomically pick the first IN_QUEUE request of ``app_ids`` ordered by
        (priority, seq), apply ``changes`` to it, count one more attempt (``attempts + 1``)
        and return it."""

    async def _pop_many(
        self, app_ids: list[str], changes: dict[str, Any], limit: int
    ) -> list[RequestRecord]:
        """Up to ``limit`` of what :meth:`_pop_next` takes, in its order. Backends that
        can take several in one step override this."""
        recs: list[RequestRecord] = []
        while len(recs) < limit and (rec := await self._pop_next(app_ids, changes)) is not None:
            recs.append(rec)
        return recs

    @abc.abstractmethod
    async def _queue_rank(self, rec: RequestRecord) -> int:
        """How many IN_QUEUE requests of ``rec.app_id`` sort before ``rec``."""

    @abc.abstractmethod
    async def _count(self, app_id: str, status: RequestStatus) -> int: ...

    @abc.abstractmethod
    async def _expired_leases(self, t: float) -> list[RequestRecord]: ...

    @abc.abstractmethod
    async def _list(
        self, app_id: str | None, status: RequestStatus | None, owner: str | None, limit: int
    ) -> list[RequestRecord]: ...

    @abc.abstractmethod
    async def _delete_completed_before(self, t: float) -> int:
        """Delete completed requests (with their logs and events) finished before t."""

    @abc.abstractmethod
    async def _append_logs(self, request_id: str, entries: list[LogEntry]) -> None: ...

    @abc.abstractmethod
    async def _get_logs(self, request_id: str, since: int) -> list[LogEntry]: ...

    @abc.abstractmethod
    async def _append_event(self, request_id: str, data: bytes) -> None: ...

    @abc.abstractmethod
    async def _get_events(self, request_id: str, since: int) -> list[bytes]: ...


def _claimed(rec: RequestRecord, taker: Taker, t: float) -> RequestRecord:
    """``rec`` as a claim by ``taker`` at ``t`` would leave it (its first attempt)."""
    return evolve(
        rec,
        status=RequestStatus.IN_PROGRESS,
        worker_id=taker.worker_id,
        lease_expires=t + taker.lease_ttl,
        started_at=t,
        attempts=1,
    )


def _error_body(detail: str, error_type: str) -> bytes:
    return json.dumps({"detail": detail, "error_type": error_type}).encode()
