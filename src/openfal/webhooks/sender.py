"""The delivery loop: takes due webhooks from the store's outbox, signs and POSTs them.

Any number of senders may run against one store (``openfal serve`` runs one; so can
every gateway or worker process of a cluster): each webhook is leased to one sender per
try (see ``openfal.store.outbox``). A try that fails is retried on ``RetryPolicy``'s
schedule; every try is recorded on the webhook (``openfal requests show``). The body is
built from the request's result on the first try and kept, so every try sends the same
bytes; each try is signed afresh, with the current timestamp.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field

import httpx

from openfal.metrics import webhook_try
from openfal.store import Store, WebhookDelivery
from openfal.store.clock import now
from openfal.webhooks.delivery import (
    DEFAULT_TIMEOUT,
    Attempt,
    RetryPolicy,
    UrlGuard,
    WebhookUrlRefused,
    deliver_once,
)
from openfal.webhooks.payload import build_payload
from openfal.webhooks.signing import SigningKey, sign_headers

log = logging.getLogger("openfal.webhooks")

ANONYMOUS_USER = "anonymous"  # X-Fal-Webhook-User-Id of requests made without a key


@dataclass
class SenderConfig:
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float = DEFAULT_TIMEOUT  # seconds per try
    allow: tuple[str, ...] = ()  # private hosts/networks a webhook may call (UrlGuard)
    # seconds between looks for due webhooks this sender was not told about: tries that
    # another sender left leased when it died (due a lease_ttl later anyway), completions
    # marked by another process. Its own completions wake it at once, its own retries when due.
    poll_interval: float = 30.0
    promote_interval: float = 60.0  # seconds between sweeps for unmarked completions
    concurrency: int = 16  # tries in flight at once

    @property
    def lease_ttl(self) -> float:
        # comfortably longer than a try, so a live sender never loses its lease
        return 2 * self.timeout + 30.0


class WebhookSender:
    """Delivers the outbox of ``store``, signing with ``key``."""

    def __init__(
        self,
        store: Store,
        key: SigningKey,
        config: SenderConfig | None = None,
        sender_id: str | None = None,
    ) -> None:
        self.store = store
        self.key = key
        self.config = config or SenderConfig()
        self.id = sender_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.guard = UrlGuard(self.config.allow)
        self._http: httpx.AsyncClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._retries: list[float] = []  # when the retries this sender scheduled are due

    async def start(self, *, recover_leases: bool = False) -> None:
        """Start the loop. ``recover_leases``: this process owns the store alone (embedded
        mode), so tries left leased by a previous run are due at once."""
        self._http = httpx.AsyncClient(follow_redirects=False)
        if recover_leases:
            n = await self.store.release_webhook_leases()
            if n:
                log.warning("retrying %d webhook(s) left in flight by a previous run", n)
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        self._stopping = True  # in case a cancel is swallowed by a library call
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def run_once(self) -> int:
        """Claim the due webhooks (up to ``concurrency``) and try each once."""
        batch = await self.store.claim_webhooks(
            self.id, lease_ttl=self.config.lease_ttl, limit=self.config.concurrency
        )
        await asyncio.gather(*(self._try(d) for d in batch))
        return len(batch)

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        next_promote = loop.time()
        while not self._stopping:
            try:
                if loop.time() >= next_promote:
                    next_promote = loop.time() + self.config.promote_interval
                    await self.store.promote_webhooks()
                if await self.run_once():
                    continue  # more may be due
            except Exception:
                log.exception("webhook delivery loop failed; going on")
            await self.store.wait_for_webhooks(self._until_due())

    def _until_due(self) -> float:
        """Seconds until this sender's next retry is due, at most ``poll_interval``."""
        t = now()
        self._retries = [at for at in self._retries if at > t]
        return min([self.config.poll_interval, *(at - t for at in self._retries)])

    async def _try(self, delivery: WebhookDelivery) -> None:
        body = delivery.body if delivery.body is not None else await self._body(delivery)
        if body is None:
            return
        user = delivery.user or ANONYMOUS_USER
        headers = sign_headers(self.key, delivery.request_id, user, body)
        assert self._http is not None, "start() the sender first"
        refused: str | None = None
        try:
            attempt = await deliver_once(
                self._http, delivery.url, body, headers, self.config.timeout, guard=self.guard
            )
        except WebhookUrlRefused as e:
            refused = str(e)
            attempt = Attempt(time.time(), None, refused, 0.0)
        number = len(delivery.attempts) + 1
        delay = None if refused or attempt.ok else self.config.retry.next_delay(number)
        error = None
        if not attempt.ok and delay is None:
            error = refused or f"gave up after {number} attempt(s): {_outcome(attempt)}"
        retry_at = now() + delay if delay is not None else None
        recorded = await self.store.record_webhook_attempt(
            delivery.request_id,
            self.id,
            attempt.as_dict(),
            body=body,
            delivered=attempt.ok,
            retry_at=retry_at,
            error=error,
        )
        if recorded is not None and retry_at is not None:
            self._retries.append(retry_at)
        webhook_try(_label(attempt.ok, refused, error))
        if attempt.ok:
            log.info("webhook of %s delivered (try %d)", delivery.request_id, number)
        else:
            later = f"retry in {delay:g}s" if delay is not None else "giving up"
            log.warning(
                "webhook of %s try %d failed: %s; %s",
                delivery.request_id,
                number,
                _outcome(attempt),
                later,
            )

    async def _body(self, delivery: WebhookDelivery) -> bytes | None:
        rec = await self.store.get(delivery.request_id)
        if rec is None or not rec.is_done:
            why = "the request no longer exists" if rec is None else "the request is not done"
            await self.store.record_webhook_attempt(
                delivery.request_id,
                self.id,
                Attempt(time.time(), None, why, 0.0).as_dict(),
                body=b"",
                delivered=False,
                retry_at=None,
                error=why,
            )
            return None
        # like fal: an app's own error is "Invalid status code: N" with its body as the
        # payload; a platform error (timeout, cancel, no runner) says what happened
        error = rec.error if rec.error_type else None
        return build_payload(rec.id, rec.status_code or 500, rec.result or b"", error)


def _label(ok: bool, refused: str | None, gave_up: str | None) -> str:
    """The try's ``outcome`` label in ``openfal_webhook_deliveries_total``."""
    if ok:
        return "delivered"
    if refused:
        return "refused"
    return "failed" if gave_up else "retry"


def _outcome(attempt: Attempt) -> str:
    return f"HTTP {attempt.status_code}" if attempt.status_code is not None else str(attempt.error)
