"""The webhook outbox: one durable delivery record per request that asked for a webhook.

Lifecycle::

    WAITING ──request completed──▶ PENDING ──delivered──▶ DELIVERED
    (created with the request)      │  ▲
                                    │  └── try failed, retry at next_at
                                    └──── tries exhausted / URL refused ──▶ FAILED

The record is written in the same store call that accepts the request (before the
request itself), so a webhook can never be lost between "accepted" and "completed".
Completion marks it PENDING at once (``webhook_ready``, called by the store when a
request finishes); ``promote_webhooks`` is the safety net for a process that died in
between. Senders (any number, in any process) ``claim_webhooks``: a claim is a lease
that moves ``next_at`` to the lease's end, so a sender that dies mid-try leaves the
record due again when its lease runs out, and two senders never hold it together.
Each try is appended to ``attempts`` by the lease holder only (compare-and-set).
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from openfal.store import clock

if TYPE_CHECKING:
    from openfal.store.requests import RequestRecord


class WebhookState(str, Enum):
    WAITING = "WAITING"  # the request has not completed yet
    PENDING = "PENDING"  # to be tried at next_at
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"  # gave up (tries exhausted, URL refused, request gone)


FINISHED_WEBHOOK_STATES = frozenset({WebhookState.DELIVERED, WebhookState.FAILED})


@dataclass(frozen=True)
class WebhookDelivery:
    request_id: str
    url: str
    user: str | None
    state: WebhookState = WebhookState.WAITING
    created_at: float = 0.0
    updated_at: float = 0.0
    next_at: float | None = None  # PENDING: due from then on
    lease_owner: str | None = None  # the sender trying it now
    body: bytes | None = None  # built for the first try, then sent unchanged
    attempts: tuple[dict[str, Any], ...] = field(default_factory=tuple)
    error: str | None = None  # why it FAILED

    def public(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "state": self.state.value,
            "next_at": self.next_at if self.state is WebhookState.PENDING else None,
            "attempts": list(self.attempts),
            "error": self.error,
        }


class OutboxStore(abc.ABC):
    """Webhook deliveries (mixed into :class:`openfal.store.Store`)."""

    _webhook_wakeup: asyncio.Event | None = None

    async def add_webhook(self, request_id: str, url: str, user: str | None) -> WebhookDelivery:
        t = clock.now()
        delivery = WebhookDelivery(request_id, url, user, created_at=t, updated_at=t)
        if not await self._put_webhook(delivery):
            raise ValueError(f"request {request_id!r} already has a webhook")
        return delivery

    async def get_webhook(self, request_id: str) -> WebhookDelivery | None:
        return await self._get_webhook(request_id)

    async def webhook_ready(self, request_id: str) -> bool:
        """The request completed: its webhook is due now (False if none was waiting)."""
        t = clock.now()
        changes = {"state": WebhookState.PENDING, "next_at": t, "updated_at": t}
        done = await self._update_webhook(request_id, WebhookState.WAITING, changes) is not None
        if done:
            if self._webhook_wakeup is None:
                self._webhook_wakeup = asyncio.Event()
            self._webhook_wakeup.set()
        return done

    async def promote_webhooks(self, *, grace: float = 300.0, limit: int = 1000) -> int:
        """Mark due the waiting webhooks whose request completed (or fail those whose
        request vanished ``grace`` seconds ago); returns how many changed."""
        changed = 0
        t = clock.now()
        for delivery in await self._list_webhooks(WebhookState.WAITING, limit):
            rec = await self._get(delivery.request_id)
            if rec is not None and rec.is_done:
                changed += await self.webhook_ready(delivery.request_id)
            elif rec is None and delivery.created_at < t - grace:
                gone = {
                    "state": WebhookState.FAILED,
                    "updated_at": t,
                    "error": "the request no longer exists",
                }
                changed += (
                    await self._update_webhook(delivery.request_id, WebhookState.WAITING, gone)
                    is not None
                )
        return changed

    async def claim_webhooks(
        self, sender: str, *, lease_ttl: float = 60.0, limit: int = 16
    ) -> list[WebhookDelivery]:
        """Due webhooks, now leased to ``sender`` for ``lease_ttl`` seconds."""
        return await self._claim_webhooks(sender, clock.now(), lease_ttl, limit)

    async def record_webhook_attempt(
        self,
        request_id: str,
        sender: str,
        attempt: dict[str, Any],
        *,
        body: bytes,
        delivered: bool,
        retry_at: float | None,
        error: str | None = None,
    ) -> WebhookDelivery | None:
        """Append one try and decide what follows: DELIVERED, PENDING again at
        ``retry_at``, or FAILED when ``retry_at`` is None. None if ``sender`` no longer
        holds the lease (the try is then not recorded)."""
        current = await self._get_webhook(request_id)
        if current is None or current.lease_owner != sender:
            return None
        state = (
            WebhookState.DELIVERED
            if delivered
            else (WebhookState.PENDING if retry_at is not None else WebhookState.FAILED)
        )
        changes: dict[str, Any] = {
            "state": state,
            "attempts": (*current.attempts, attempt),
            "body": body,
            "lease_owner": None,
            "next_at": retry_at if state is WebhookState.PENDING else None,
            "updated_at": clock.now(),
            "error": error if state is WebhookState.FAILED else None,
        }
        return await self._update_webhook(
            request_id, WebhookState.PENDING, changes, lease_owner=sender
        )

    async def release_webhook_leases(self) -> int:
        """Make every leased webhook due now (at start, when no other sender can be alive)."""
        return await self._release_webhook_leases(clock.now())

    async def wait_for_webhooks(self, timeout: float) -> None:
        """Return when a webhook of this process became due, or after ``timeout``."""
        if self._webhook_wakeup is None:
            self._webhook_wakeup = asyncio.Event()
        ev = self._webhook_wakeup
        try:
            # not asyncio.wait_for: on 3.11 it can swallow a cancel that races the event
            async with asyncio.timeout(timeout):
                await ev.wait()
        except TimeoutError:
            pass
        finally:
            ev.clear()

    async def purge_webhooks(self, before: float) -> int:
        """Delete delivered and failed webhooks last changed before ``before``."""
        return await self._delete_webhooks_before(before)

    # ------------------------------------------------------------------ hooks

    @abc.abstractmethod
    async def _get(self, request_id: str) -> RequestRecord | None: ...

    @abc.abstractmethod
    async def _put_webhook(self, delivery: WebhookDelivery) -> bool:
        """Insert the record of ``delivery.request_id``; False if one exists."""

    @abc.abstractmethod
    async def _get_webhook(self, request_id: str) -> WebhookDelivery | None: ...

    @abc.abstractmethod
    async def _delete_webhook(self, request_id: str) -> None: ...

    @abc.abstractmethod
    async def _update_webhook(
        self,
        request_id: str,
        expect: WebhookState,
        changes: dict[str, Any],
        *,
        lease_owner: str | None = None,
    ) -> WebhookDelivery | None:
        """Apply ``changes`` if the state is ``expect`` (and the lease is held by
        ``lease_owner`` when given), atomically; the new record or None."""

    @abc.abstractmethod
    async def _claim_webhooks(
        self, sender: str, t: float, lease_ttl: float, limit: int
    ) -> list[WebhookDelivery]:
        """Atomically lease up to ``limit`` PENDING webhooks with ``next_at <= t``
        (soonest first): ``lease_owner = sender``, ``next_at = t + lease_ttl``."""

    @abc.abstractmethod
    async def _list_webhooks(self, state: WebhookState, limit: int) -> list[WebhookDelivery]:
        """Oldest first."""

    @abc.abstractmethod
    async def _release_webhook_leases(self, t: float) -> int: ...

    @abc.abstractmethod
    async def _delete_webhooks_before(self, t: float) -> int: ...


WEBHOOK_FIELDS: Sequence[str] = tuple(WebhookDelivery.__dataclass_fields__)
