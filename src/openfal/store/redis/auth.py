"""Keys, rate buckets, concurrency slots and file owners in the Redis store.

Key layout (after the store's prefix)::

    keys                 hash   key id -> JSON KeyRecord (as key_to_row writes it), and
                                "revoked:{key id}" -> revoked_at (HSETNX: revoking twice
                                is a no-op); one HMGET reads a key and its revocation
    rate:{bucket}        hash   tokens, updated (expires after an idle window)
    slots:{user}         zset   request ids holding a slot, by the time they took it
    files:owner          hash   file key -> owner
    keyack:{nonce}       list   acknowledgements of one key announcement (expires)

Channel ``keys``: a new key, announced by its creator. While no key exists (dev mode)
every request asks whether one does; a process answers "no" from memory once its hub
has subscribed ``keys`` and one ``HLEN`` found none, until an announcement arrives or the
subscription breaks. Whoever creates a key publishes on ``keys`` and returns once every
process that heard it acknowledged (``keyack:{nonce}``), each having switched auth on
first: a request any process takes after the creation returns needs a key.

Checks that read and write (the bucket, the slots) are Lua scripts; the slot script reads
``req:{id}``'s status, the request hash of ``redis.py``.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import logging
import uuid
from typing import TYPE_CHECKING, cast

import redis.asyncio as aioredis

from openfal.store.auth import AuthStore, KeyRecord, key_to_row, row_to_key
from openfal.store.redis.scripts import lua

if TYPE_CHECKING:
    from openfal.store.redis.hub import _Hub

log = logging.getLogger(__name__)

ACK_WAIT = 5.0  # seconds a key's creator waits for the processes that heard it

# ARGV: limit, window, t  -> the wait in seconds, as a string (0 when taken)
_LUA_TAKE_TOKEN = lua("auth_take_token.lua")

_REVOKED = "revoked:"  # the field of a key's revocation, in the keys hash

# KEYS: slots:{user}; ARGV: prefix, request id, limit, t, grace  -> 1 taken, 0 full
_LUA_ACQUIRE_SLOT = lua("auth_acquire_slot.lua")


class RedisAuth(AuthStore):
    prefix: str
    _hub: _Hub | None
    _keys_seen = False  # a key exists: for good (revoked keys count)
    _no_keys_at: int | None = None  # the hub epoch at which no key existed and we listened
    _acks: set[asyncio.Task[None]] | None = None

    @abc.abstractmethod
    async def _r(self) -> aioredis.Redis: ...

    @abc.abstractmethod
    def _k(self, *parts: str) -> str: ...

    async def _put_key(self, key: KeyRecord) -> None:
        r = await self._r()
        await r.hset(self._k("keys"), key.id, json.dumps(key_to_row(key)))
        await self._announce_key(r)

    def _keys_channel(self) -> bytes:
        return (self.prefix + "keys").encode()

    async def _announce_key(self, r: aioredis.Redis) -> None:
        """Tell every process that answers "no key" from memory, and wait until each did
        hear it (up to ``ACK_WAIT``)."""
        self._keys_seen = True
        nonce = uuid.uuid4().hex
        heard = int(await r.publish(self._keys_channel(), nonce))
        acks, got = self._k("keyack", nonce), 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ACK_WAIT
        while got < heard and (left := deadline - loop.time()) > 0:
            if await r.blpop([acks], timeout=max(left, 0.01)) is not None:
                got += 1
        if got < heard:
            log.warning(
                "a new API key: %d of %d processes acknowledged it within %.0f s; the others "
                "may accept requests without a key until its announcement reaches them",
                got,
                heard,
                ACK_WAIT,
            )
        await r.delete(acks)

    def _key_announced(self, nonce: bytes) -> None:
        """On the hub: a key was created elsewhere. Auth is on from now; then say so."""
        self._keys_seen = True
        self._no_keys_at = None
        if self._acks is None:
            self._acks = set()
        task = asyncio.get_running_loop().create_task(self._ack_key(nonce.decode()))
        self._acks.add(task)
        task.add_done_callback(self._acks.discard)

    async def _ack_key(self, nonce: str) -> None:
        with contextlib.suppress(Exception):  # the creator stops waiting after ACK_WAIT
            async with (await self._r()).pipeline(transaction=False) as pipe:
                pipe.rpush(self._k("keyack", nonce), b"1")
                pipe.expire(self._k("keyack", nonce), 60)
                await pipe.execute()

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
        if self._keys_seen:
            return True
        hub, channel = self._hub, self._keys_channel()
        if hub is not None and self._no_keys_at == hub.epoch and hub.channel(channel):
            return False  # no command: an announcement would have reached us
        epoch = None
        if hub is not None:
            loop = asyncio.get_running_loop()
            with contextlib.suppress(Exception):  # the server is away: HLEN says so
                if await hub.ensure(channel, loop.time() + 5.0) is not None:
                    epoch = hub.epoch  # subscribed: from here every announcement arrives
        found = int(await (await self._r()).hlen(self._k("keys"))) > 0
        if found or self._keys_seen:
            self._keys_seen = True
            return True
        if epoch is not None and hub is not None and hub.epoch == epoch:
            self._no_keys_at = epoch
        return False

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
