"""The runner registry of :class:`~openfal.store.redis.RedisStore`.

Key layout (under the store's prefix)::

    runner:{id}            hash    one RunnerInfo, a field each
    runners                zset    runner ids by expires_at (every app)
    runners:app:{app_id}   zset    the same, per app: the slots of that app
    workers                hash    worker_id -> JSON WorkerInfo
    workers:exp            zset    worker ids by expires_at
    secret:{name}          string  shared secrets (set once, NX)

Acquire, heartbeat, retire, release and purge are Lua scripts: counting an app's live
slots and taking one cannot interleave with another worker doing the same. As in the
request scripts, every timestamp comes from Python, never from the server clock.
"""

from __future__ import annotations

import abc
import json
from dataclasses import fields
from typing import Any, cast

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript

from openfal.store.runners import RunnerInfo, RunnerRegistry, SlotState, WorkerInfo

_INTS = frozenset({"in_flight", "max_multiplexing"})
_FLOATS = frozenset({"started_at", "heartbeat_at", "expires_at"})
_NAMES = tuple(f.name for f in fields(RunnerInfo))

_DROP = """
local function drop(P, id)
  local app = redis.call('HGET', P .. 'runner:' .. id, 'app_id')
  redis.call('DEL', P .. 'runner:' .. id)
  redis.call('ZREM', P .. 'runners', id)
  if app then redis.call('ZREM', P .. 'runners:app:' .. app, id) end
end
local function put(P, id, app, exp, first, n)
  local sets = {}
  for j = 1, 2 * n do sets[j] = ARGV[first + j - 1] end
  redis.call('HSET', P .. 'runner:' .. id, unpack(sets))
  redis.call('ZADD', P .. 'runners', exp, id)
  redis.call('ZADD', P .. 'runners:app:' .. app, exp, id)
end
"""

# ARGV: prefix, id, app, limit, t, expires, nfields, k1, v1, ...  -> 1 taken, 0 not
_ACQUIRE = """
local P, id, app = ARGV[1], ARGV[2], ARGV[3]
local limit, t = tonumber(ARGV[4]), ARGV[5]
local akey = P .. 'runners:app:' .. app
for _, dead in ipairs(redis.call('ZRANGEBYSCORE', akey, '-inf', '(' .. t)) do
  drop(P, dead)
end
if redis.call('EXISTS', P .. 'runner:' .. id) == 1 then return 0 end
if redis.call('ZCARD', akey) >= limit then return 0 end
put(P, id, app, ARGV[6], 8, tonumber(ARGV[7]))
return 1
"""

# ARGV: prefix, t, expires, nrunners, then per runner: id, app, nfields, k1, v1, ...
#   -> the ids that were not live
_HEARTBEAT = """
local P, t, exp = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local lost = {}
local i = 5
for _ = 1, tonumber(ARGV[4]) do
  local id, app, n = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
  local score = redis.call('ZSCORE', P .. 'runners', id)
  if (not score) or tonumber(score) < t then
    drop(P, id)
    lost[#lost + 1] = id
  else
    local state = redis.call('HGET', P .. 'runner:' .. id, 'state')
    put(P, id, app, exp, i + 3, n)
    if state == 'STOPPING' then redis.call('HSET', P .. 'runner:' .. id, 'state', state) end
  end
  i = i + 3 + 2 * n
end
return lost
"""

# ARGV: prefix, id, keep, t  -> 1 when now STOPPING
_RETIRE = """
local P, id, keep, t = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local h = redis.call('HMGET', P .. 'runner:' .. id, 'app_id', 'state')
local score = redis.call('ZSCORE', P .. 'runners', id)
if (not h[1]) or (not score) or tonumber(score) < tonumber(t) or h[2] == 'STOPPING' then
  return 0
end
local active = 0
for _, other in ipairs(redis.call('ZRANGEBYSCORE', P .. 'runners:app:' .. h[1], t, '+inf')) do
  if redis.call('HGET', P .. 'runner:' .. other, 'state') ~= 'STOPPING' then
    active = active + 1
  end
end
if active <= keep then return 0 end
redis.call('HSET', P .. 'runner:' .. id, 'state', 'STOPPING')
return 1
"""

# ARGV: prefix, id
_RELEASE = """
drop(ARGV[1], ARGV[2])
return 1
"""

# ARGV: prefix, t  -> the number of runner records deleted
_PURGE = """
local P, t = ARGV[1], ARGV[2]
local ids = redis.call('ZRANGEBYSCORE', P .. 'runners', '-inf', '(' .. t)
for _, id in ipairs(ids) do drop(P, id) end
for _, w in ipairs(redis.call('ZRANGEBYSCORE', P .. 'workers:exp', '-inf', '(' .. t)) do
  redis.call('HDEL', P .. 'workers', w)
  redis.call('ZREM', P .. 'workers:exp', w)
end
return #ids
"""


def _encode(rec: RunnerInfo, skip: str = "") -> list[str]:
    flat: list[str] = []
    for name, value in rec.to_json().items():
        if name == skip:
            continue
        if name in _FLOATS:
            value = repr(float(value))
        flat += [name, str(value)]
    return flat


def _decode(raw: dict[bytes, bytes]) -> RunnerInfo:
    data: dict[str, Any] = {}
    for name in _NAMES:
        value = raw.get(name.encode())
        if value is None:
            continue
        text = value.decode()
        data[name] = int(text) if name in _INTS else float(text) if name in _FLOATS else text
    data["state"] = SlotState(data.get("state", "STARTING"))
    return RunnerInfo(**data)


class RedisRunners(RunnerRegistry):
    prefix: str

    @abc.abstractmethod
    async def _r(self) -> aioredis.Redis:
        """The connected client (RedisStore's)."""

    async def _runners_script(self, name: str, body: str) -> AsyncScript:
        client = await self._r()
        cache: dict[tuple[int, str], AsyncScript] = self.__dict__.setdefault("_runner_scripts", {})
        key = (id(client), name)
        if key not in cache:
            if len(cache) > 16:  # clients come and go when the store reconnects
                cache.clear()
            cache[key] = client.register_script(_DROP + body)
        return cache[key]

    async def _runner_acquire(self, rec: RunnerInfo, limit: int, t: float) -> bool:
        script = await self._runners_script("acquire", _ACQUIRE)
        flat = _encode(rec)
        args: list[str | int] = [self.prefix, rec.runner_id, rec.app_id, limit, repr(t)]
        args += [repr(rec.expires_at), len(flat) // 2, *flat]
        return bool(await script(args=args))

    async def _runner_heartbeat(self, runners: list[RunnerInfo], t: float) -> list[str]:
        script = await self._runners_script("heartbeat", _HEARTBEAT)
        args: list[str | int] = [self.prefix, repr(t), repr(runners[0].expires_at), len(runners)]
        for rec in runners:
            flat = _encode(rec, skip="started_at")  # set once, by acquire
            args += [rec.runner_id, rec.app_id, len(flat) // 2, *flat]
        lost = await script(args=args)
        return [x.decode() for x in lost]

    async def _runner_retire(self, runner_id: str, keep: int, t: float) -> bool:
        script = await self._runners_script("retire", _RETIRE)
        return bool(await script(args=[self.prefix, runner_id, keep, repr(t)]))

    async def _runner_delete(self, runner_id: str) -> None:
        script = await self._runners_script("release", _RELEASE)
        await script(args=[self.prefix, runner_id])

    async def _runner_list(self, app_id: str | None, t: float) -> list[RunnerInfo]:
        r = await self._r()
        index = self.prefix + (f"runners:app:{app_id}" if app_id is not None else "runners")
        ids = cast(list[bytes], await r.zrangebyscore(index, repr(t), "+inf"))
        if not ids:
            return []
        async with r.pipeline(transaction=False) as pipe:
            for runner_id in ids:
                pipe.hgetall(self.prefix + "runner:" + runner_id.decode())
            raws = await pipe.execute()
        return [_decode(raw) for raw in raws if raw]

    async def _worker_put(self, info: WorkerInfo) -> None:
        async with (await self._r()).pipeline(transaction=True) as pipe:
            pipe.hset(self.prefix + "workers", info.worker_id, json.dumps(info.to_json()))
            pipe.zadd(self.prefix + "workers:exp", {info.worker_id: info.expires_at})
            await pipe.execute()

    async def _worker_delete(self, worker_id: str) -> None:
        async with (await self._r()).pipeline(transaction=True) as pipe:
            pipe.hdel(self.prefix + "workers", worker_id)
            pipe.zrem(self.prefix + "workers:exp", worker_id)
            await pipe.execute()

    async def _worker_list(self, t: float) -> list[WorkerInfo]:
        r = await self._r()
        ids = cast(list[bytes], await r.zrangebyscore(self.prefix + "workers:exp", repr(t), "+inf"))
        if not ids:
            return []
        raws = cast(list[bytes | None], await r.hmget(self.prefix + "workers", list(ids)))
        return [WorkerInfo.from_json(json.loads(raw)) for raw in raws if raw is not None]

    async def _registry_purge(self, t: float) -> int:
        script = await self._runners_script("purge", _PURGE)
        return int(await script(args=[self.prefix, repr(t)]))

    async def _secret_get_or_create(self, name: str, candidate: bytes) -> bytes:
        key = self.prefix + "secret:" + name
        async with (await self._r()).pipeline(transaction=True) as pipe:
            pipe.set(key, candidate, nx=True)
            pipe.get(key)
            _, value = await pipe.execute()
        return bytes(value)
