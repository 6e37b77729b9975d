"""Keys, rate buckets, concurrency slots and file owners in the Redis store.

Key layout (after the store's prefix)::

    keys                 hash   key id -> JSON KeyRecord (as key_to_row writes it), and
                                "revoked:{key id}" -> revoked_at (HSETNX: revoking twice
                                is a no-op); one HMGET reads a key and its revocation
    rate:{bucket}        hash   tokens, updated (expires after an idle window)
    slots:{user}         zset   request ids holding a slot, by the time they took it
    files:owner          hash   file key -> owner

Checks that read and write (the bucket, the slots) are Lua scripts; the slot script reads
``req:{id}``'s status, the request hash of ``redis.py``.
"""

from __future__ import annotations

import abc
import json
from typing import cast

import redis.asyncio as aioredis

from openfal.store.auth import AuthStore, KeyRecord, key_to_row, row_to_key
from openfal.store.redis.scripts import lua

# ARGV: limit, window, t  -> the wait in seconds, as a string (0 when taken)
_LUA_TAKE_TOKEN = lua("auth_take_token.lua")

_REVOKED = "revoked:"  # the field of a key's revocation, in the keys hash

# KEYS: slots:{user}; ARGV: prefix, request id, limit, t, grace  -> 1 taken, 0 full
_LUA_ACQUIRE_SLOT = lua("auth_acquire_slot.lua")


class RedisAuth(AuthStore):
    prefix: str

    @abc.abstractmethod
    async def _r(self) -> aioredis.Redis: ...

    @abc.abstractmethod
    def _k(self, *parts: str) -> str: ...

    async def _put_key(self, key: KeyRecord) -> None:
        r = await self._r()
        await r.hset(self._k("keys"), key.id, json.dumps(key_to_row(key)))

    async def _get_key(self, key_id: str) -> KeyRecord | None:
        # one command on every authenticated request
        if key_id.startswith(_REVOKED):
            return None
        found = await (await self._r()).hmget(self._k("keys"), [key_id, _REVOKED + key_id])
        raw, revoked = cast(list[bytes | None], found)
        return _key(raw, revoked) if raw is not None else None

    async def _list_keys(self) -> list[KeyRecord]:
        rows = cast(dict[bytes, bytes], await (await self._r()).hgetall(self._k("keys")))
        return [
            _key(row, rows.get(_REVOKED.encode() + key_id))
            for key_id, row in rows.items()
            if not key_id.startswith(_REVOKED.encode())
        ]

    async def _revoke_key(self, key_id: str, t: float) -> bool:
        r = await self._r()
        if key_id.startswith(_REVOKED) or not await r.hexists(self._k("keys"), key_id):
            return False
        return bool(await r.hsetnx(self._k("keys"), _REVOKED + key_id, repr(float(t))))

    async def _migrate_keys(self) -> None:
        """Once, where an older store kept revocations in a hash of their own."""
        r = await self._r()
        old = cast(dict[bytes, bytes], await r.hgetall(self._k("keys", "revoked")))
        for key_id, t in old.items():
            await r.hsetnx(self._k("keys"), _REVOKED.encode() + key_id, t)
        await r.delete(self._k("keys", "revoked"))

    async def _any_key(self) -> bool:
        return int(await (await self._r()).hlen(self._k("keys"))) > 0

    async def _take_token(self, bucket: str, limit: int, window: float, t: float) -> float:
        script = (await self._r()).register_script(_LUA_TAKE_TOKEN)
        wait = await script(keys=[self._k("rate", bucket)], args=[limit, window, repr(t)])
        return float(wait)

    async def _acquire_slot(
        self, user: str, request_id: str, limit: int, t: float, grace: float
    ) -> bool:
        script = (await self._r()).register_script(_LUA_ACQUIRE_SLOT)
        taken = await script(
            keys=[self._k("slots", user)],
            args=[self.prefix, request_id, limit, repr(t), repr(grace)],
        )
        return bool(taken)

    async def _release_slot(self, user: str, request_id: str) -> None:
        await (await self._r()).zrem(self._k("slots", user), request_id)

    async def _slots(self, user: str) -> list[str]:
        ids = cast(list[bytes], await (await self._r()).zrange(self._k("slots", user), 0, -1))
        return [i.decode() for i in ids]

    async def _put_file_owner(self, file_key: str, owner: str, t: float) -> None:
        await (await self._r()).hset(self._k("files", "owner"), file_key, owner)

    async def _get_file_owner(self, file_key: str) -> str | None:
        raw = await (await self._r()).hget(self._k("files", "owner"), file_key)
        return cast(bytes, raw).decode() if raw is not None else None


def _key(raw: bytes, revoked: bytes | None) -> KeyRecord:
    row = json.loads(raw)
    if revoked is not None:
        row["revoked_at"] = float(revoked)
    return row_to_key(row)
