"""Deployments, revisions, secrets and line logs in the Redis store.

Key layout (after the store's prefix)::

    deploy:{kind}        hash    key -> canonical JSON document
    blob:{key}           string  a revision's source
    lines:{log}          list    the kept lines of a log
    lines:{log}:dropped  string  how many of its oldest lines were trimmed

Compare-and-swap and append-then-trim are Lua scripts.
"""

from __future__ import annotations

import abc
import json
from typing import Any, cast

import redis.asyncio as aioredis

from openfal.store.deploy import DeployStore, encode

# KEYS: hash; ARGV: field, expected ('' = absent), new  -> 1 swapped, 0 not
_LUA_SWAP = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if (cur or '') ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
"""

# KEYS: list, dropped counter; ARGV: limit, lines...
_LUA_APPEND = """
local n = redis.call('RPUSH', KEYS[1], unpack(ARGV, 2))
local extra = n - tonumber(ARGV[1])
if extra > 0 then
  redis.call('LTRIM', KEYS[1], extra, -1)
  redis.call('INCRBY', KEYS[2], extra)
end
return n
"""

# KEYS: list, dropped counter; ARGV: since  -> the lines from absolute index since
_LUA_GET = """
local dropped = tonumber(redis.call('GET', KEYS[2]) or '0')
local start = tonumber(ARGV[1]) - dropped
if start < 0 then start = 0 end
return redis.call('LRANGE', KEYS[1], start, -1)
"""


class RedisDeploy(DeployStore):
    @abc.abstractmethod
    async def _r(self) -> aioredis.Redis: ...

    @abc.abstractmethod
    def _k(self, *parts: str) -> str: ...

    async def _doc_get(self, kind: str, key: str) -> dict[str, Any] | None:
        raw = await (await self._r()).hget(self._k("deploy", kind), key)
        return None if raw is None else _load(raw)

    async def _doc_items(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        raw = cast(dict[bytes, bytes], await (await self._r()).hgetall(self._k("deploy", kind)))
        return [(key.decode(), _load(item)) for key, item in raw.items()]

    async def _doc_swap(
        self, kind: str, key: str, expect: dict[str, Any] | None, new: dict[str, Any]
    ) -> bool:
        r = await self._r()
        args = [key, encode(expect) or "", encode(new) or ""]
        done = await r.eval(_LUA_SWAP, 1, self._k("deploy", kind), *args)
        return bool(done)

    async def _doc_delete(self, kind: str, key: str) -> bool:
        return bool(await (await self._r()).hdel(self._k("deploy", kind), key))

    async def _blob_put(self, key: str, data: bytes) -> None:
        await (await self._r()).set(self._k("blob", key), data)

    async def _blob_get(self, key: str) -> bytes | None:
        raw = await (await self._r()).get(self._k("blob", key))
        return None if raw is None else cast(bytes, raw)

    async def _blob_delete(self, key: str) -> None:
        await (await self._r()).delete(self._k("blob", key))

    async def _log_append(self, log: str, lines: list[str], limit: int) -> None:
        keys = [self._k("lines", log), self._k("lines", log, "dropped")]
        await (await self._r()).eval(_LUA_APPEND, 2, *keys, limit, *lines)

    async def _log_get(self, log: str, since: int) -> list[str]:
        keys = [self._k("lines", log), self._k("lines", log, "dropped")]
        raw = await (await self._r()).eval(_LUA_GET, 2, *keys, since)
        return [item.decode() for item in raw]

    async def _log_delete(self, log: str) -> None:
        await (await self._r()).delete(self._k("lines", log), self._k("lines", log, "dropped"))


def _load(raw: bytes | str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(raw)
    return data
