"""The webhook outbox in the Redis store.

Key layout (after the store's prefix)::

    webhook:{id}        hash   one WebhookDelivery (None = absent field; attempts as JSON)
    webhooks:waiting    zset   WAITING ids by created_at
    webhooks:due        zset   PENDING ids by next_at (a claim moves it to the lease's end)
    webhooks:finished   zset   DELIVERED and FAILED ids by updated_at (purges)

Every change is one Lua script that keeps the hash and the three indexes consistent.
"""

from __future__ import annotations

import abc
import json
from typing import Any, cast

import redis.asyncio as aioredis

from openfal.store.outbox import OutboxStore, WebhookDelivery, WebhookState
from openfal.store.redis.scripts import lua

_LUA_PRELUDE = lua("outbox_prelude.lua")

# ARGV: prefix, id, <changes>  -> 1 inserted, 0 exists
_LUA_PUT = lua("outbox_put.lua")

# ARGV: prefix, id, expected state, lease owner ('' = any), <changes>  -> HGETALL or false
_LUA_UPDATE = lua("outbox_update.lua")

# ARGV: prefix, sender, t, lease end, limit  -> the claimed ids
_LUA_CLAIM = lua("outbox_claim.lua")

# ARGV: prefix, t  -> how many leases were released
_LUA_RELEASE = lua("outbox_release.lua")

# ARGV: prefix, id
_LUA_DELETE = lua("outbox_delete.lua")

# ARGV: prefix, max score ('(t')  -> how many were deleted
_LUA_PURGE = lua("outbox_purge.lua")

_FLOATS = ("created_at", "updated_at", "next_at")


def _changes(changes: dict[str, Any]) -> list[bytes | str | int]:
    sets: list[bytes | str | int] = []
    dels: list[bytes | str | int] = []
    for name, value in changes.items():
        if name not in WebhookDelivery.__dataclass_fields__:
            raise KeyError(f"unknown webhook field {name!r}")
        if value is None:
            dels.append(name)
        elif name == "state":
            sets += [name, WebhookState(value).value]
        elif name == "attempts":
            sets += [name, json.dumps(list(value))]
        elif name in _FLOATS:
            sets += [name, repr(float(value))]
        elif name == "body":
            sets += [name, bytes(value)]
        else:
            sets += [name, str(value)]
    return [len(sets) // 2, *sets, len(dels), *dels]


def _delivery(raw: dict[bytes, bytes]) -> WebhookDelivery:
    def text(name: str) -> str | None:
        value = raw.get(name.encode())
        return value.decode() if value is not None else None

    def number(name: str) -> float | None:
        value = raw.get(name.encode())
        return float(value) if value is not None else None

    return WebhookDelivery(
        request_id=text("request_id") or "",
        url=text("url") or "",
        user=text("user"),
        state=WebhookState(text("state")),
        created_at=number("created_at") or 0.0,
        updated_at=number("updated_at") or 0.0,
        next_at=number("next_at"),
        lease_owner=text("lease_owner"),
        body=raw.get(b"body"),
        attempts=tuple(json.loads(text("attempts") or "[]")),
        error=text("error"),
    )


def _pairs(flat: list[bytes]) -> dict[bytes, bytes]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


class RedisOutbox(OutboxStore):
    prefix: str

    @abc.abstractmethod
    async def _r(self) -> aioredis.Redis: ...

    @abc.abstractmethod
    def _k(self, *parts: str) -> str: ...

    async def _script(self, source: str, *args: bytes | str | int) -> Any:
        script = (await self._r()).register_script(_LUA_PRELUDE + source)
        return await script(args=[self.prefix, *args])

    async def _put_webhook(self, delivery: WebhookDelivery) -> bool:
        fields = {name: getattr(delivery, name) for name in WebhookDelivery.__dataclass_fields__}
        return bool(await self._script(_LUA_PUT, delivery.request_id, *_changes(fields)))

    async def _get_webhook(self, request_id: str) -> WebhookDelivery | None:
        r = await self._r()
        raw = cast(dict[bytes, bytes], await r.hgetall(self._k("webhook", request_id)))
        return _delivery(raw) if raw else None

    async def _delete_webhook(self, request_id: str) -> None:
        await self._script(_LUA_DELETE, request_id)

    async def _update_webhook(
        self,
        request_id: str,
        expect: WebhookState,
        changes: dict[str, Any],
        *,
        lease_owner: str | None = None,
    ) -> WebhookDelivery | None:
        result = await self._script(
            _LUA_UPDATE,
            request_id,
            WebhookState(expect).value,
            lease_owner or "",
            *_changes(changes),
        )
        return _delivery(_pairs(result)) if result else None

    async def _claim_webhooks(
        self, sender: str, t: float, lease_ttl: float, limit: int
    ) -> list[WebhookDelivery]:
        ids: list[bytes] = await self._script(
            _LUA_CLAIM, sender, repr(float(t)), repr(float(t + lease_ttl)), max(limit, 0)
        )
        return await self._fetch_webhooks(ids)

    async def _fetch_webhooks(self, ids: list[bytes]) -> list[WebhookDelivery]:
        if not ids:
            return []
        async with (await self._r()).pipeline(transaction=False) as pipe:
            for request_id in ids:
                pipe.hgetall(self._k("webhook", request_id.decode()))
            raws = await pipe.execute()
        return [_delivery(raw) for raw in raws if raw]

    async def _list_webhooks(self, state: WebhookState, limit: int) -> list[WebhookDelivery]:
        index = {
            WebhookState.WAITING: "waiting",
            WebhookState.PENDING: "due",
        }.get(WebhookState(state), "finished")
        r = await self._r()
        ids = cast(list[bytes], await r.zrange(self._k("webhooks", index), 0, max(limit, 0) - 1))
        found = [d for d in await self._fetch_webhooks(ids) if d.state is state]
        return sorted(found, key=lambda d: d.created_at)

    async def _release_webhook_leases(self, t: float) -> int:
        return int(await self._script(_LUA_RELEASE, repr(float(t))))

    async def _delete_webhooks_before(self, t: float) -> int:
        return int(await self._script(_LUA_PURGE, f"({float(t)!r}"))
