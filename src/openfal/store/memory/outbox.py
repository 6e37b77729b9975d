"""The webhook outbox of the in-process store (hooks never await: each is atomic)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from openfal.store.outbox import (
    FINISHED_WEBHOOK_STATES,
    OutboxStore,
    WebhookDelivery,
    WebhookState,
)


class MemoryOutbox(OutboxStore):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._webhooks: dict[str, WebhookDelivery] = {}

    async def _put_webhook(self, delivery: WebhookDelivery) -> bool:
        if delivery.request_id in self._webhooks:
            return False
        self._webhooks[delivery.request_id] = delivery
        return True

    async def _get_webhook(self, request_id: str) -> WebhookDelivery | None:
        return self._webhooks.get(request_id)

    async def _delete_webhook(self, request_id: str) -> None:
        self._webhooks.pop(request_id, None)

    async def _update_webhook(
        self,
        request_id: str,
        expect: WebhookState,
        changes: dict[str, Any],
        *,
        lease_owner: str | None = None,
    ) -> WebhookDelivery | None:
        current = self._webhooks.get(request_id)
        if current is None or current.state is not expect:
            return None
        if lease_owner is not None and current.lease_owner != lease_owner:
            return None
        new = replace(current, **changes)
        self._webhooks[request_id] = new
        return new

    async def _claim_webhooks(
        self, sender: str, t: float, lease_ttl: float, limit: int
    ) -> list[WebhookDelivery]:
        due = sorted(
            (
                d
                for d in self._webhooks.values()
                if d.state is WebhookState.PENDING and d.next_at is not None and d.next_at <= t
            ),
            key=lambda d: (d.next_at or 0.0, d.created_at),
        )[: max(limit, 0)]
        claimed = []
        for d in due:
            leased = replace(d, lease_owner=sender, next_at=t + lease_ttl)
            self._webhooks[d.request_id] = leased
            claimed.append(leased)
        return claimed

    async def _list_webhooks(self, state: WebhookState, limit: int) -> list[WebhookDelivery]:
        matching = sorted(
            (d for d in self._webhooks.values() if d.state is state), key=lambda d: d.created_at
        )
        return matching[: max(limit, 0)]

    async def _release_webhook_leases(self, t: float) -> int:
        leased = [
            d
            for d in self._webhooks.values()
            if d.state is WebhookState.PENDING and d.lease_owner is not None
        ]
        for d in leased:
            self._webhooks[d.request_id] = replace(d, lease_owner=None, next_at=t)
        return len(leased)

    async def _delete_webhooks_before(self, t: float) -> int:
        old = [
            d.request_id
            for d in self._webhooks.values()
            if d.state in FINISHED_WEBHOOK_STATES and d.updated_at < t
        ]
        for request_id in old:
            del self._webhooks[request_id]
        return len(old)
