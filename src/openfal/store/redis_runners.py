"""The runner registry of :class:`~openfal.store.redis.RedisStore`.

Key layout (under the store's prefix)::

    runner:{id}            hash    one RunnerInfo, a field each
    runners                zset    runner ids by expires_at (every app)
    runners:app:{app_id}   zset    the same, per app: the slots of that app
    workers                hash    worker_id -> JSON WorkerInfo
    workers:exp            zset    worker ids by expires_at
    secret:{name}          string  shared secrets (set once, NX)
    session:{id}           hash    a realtime session: app_id, runner_id ('' = waiting),
                                   expires_at
    sessions               zset    session ids by expires_at (every app)
    sessions:app:{app_id}  zset    the same, per app (waiting and attached)
    sessions:runner:{id}   zset    the sessions attached to one runner

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

from openfal.store.runners import (
    RunnerInfo,
    RunnerRegistry,
    SessionCounts,
    SlotState,
    WorkerInfo,
)

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

_SESSIONS = """
local function live(P, rid, t)
  local score = redis.call('ZSCORE', P .. 'runners', rid)
  return score ~= false and score ~= nil and tonumber(score) >= tonumber(t)
end
local function forget(P, sid)
  local h = redis.call('HMGET', P .. 'session:' .. sid, 'app_id', 'runner_id')
  if h[2] and h[2] ~= '' then redis.call('ZREM', P .. 'sessions:runner:' .. h[2], sid) end
  if h[1] then redis.call('ZREM', P .. 'sessions:app:' .. h[1], sid) end
  redis.call('ZREM', P .. 'sessions', sid)
  redis.call('DEL', P .. 'session:' .. sid)
end
"""

# ARGV: prefix, app, session id, t, expires  -> the runner (HGETALL), or false: waiting
_SESSION_OPEN = """
local P, app, sid, t, exp = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local akey = P .. 'sessions:app:' .. app
for _, old in ipairs(redis.call('ZRANGEBYSCORE', akey, '-inf', '(' .. t)) do forget(P, old) end
local cur = redis.call('HGET', P .. 'session:' .. sid, 'runner_id')
local chosen = nil
if cur and cur ~= '' and live(P, cur, t) then
  chosen = cur
else
  if cur and cur ~= '' then redis.call('ZREM', P .. 'sessions:runner:' .. cur, sid) end
  local best_load, best_started
  for _, rid in ipairs(redis.call('ZRANGEBYSCORE', P .. 'runners:app:' .. app, t, '+inf')) do
    local h = redis.call('HMGET', P .. 'runner:' .. rid, 'state', 'in_flight',
                         'max_multiplexing', 'started_at')
    if h[1] == 'READY' then
      local load = tonumber(h[2]) + redis.call('ZCOUNT', P .. 'sessions:runner:' .. rid, t, '+inf')
      local started = tonumber(h[4])
      if load < tonumber(h[3]) and (chosen == nil or load < best_load
          or (load == best_load and started < best_started)) then
        chosen, best_load, best_started = rid, load, started
      end
    end
  end
end
redis.call('HSET', P .. 'session:' .. sid, 'app_id', app, 'runner_id', chosen or '',
           'expires_at', exp)
redis.call('ZADD', akey, exp, sid)
redis.call('ZADD', P .. 'sessions', exp, sid)
if chosen then
  redis.call('ZADD', P .. 'sessions:runner:' .. chosen, exp, sid)
  return redis.call('HGETALL', P .. 'runner:' .. chosen)
end
return false
"""

# ARGV: prefix, session id, t, expires  -> 1 renewed, 0 gone
_SESSION_RENEW = """
local P, sid, t, exp = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local h = redis.call('HMGET', P .. 'session:' .. sid, 'app_id', 'runner_id', 'expires_at')
if not h[1] then return 0 end
if h[2] == '' or tonumber(h[3]) < tonumber(t) or not live(P, h[2], t) then
  forget(P, sid)
  return 0
end
redis.call('HSET', P .. 'session:' .. sid, 'expires_at', exp)
redis.call('ZADD', P .. 'sessions:app:' .. h[1], exp, sid)
redis.call('ZADD', P .. 'sessions:runner:' .. h[2], exp, sid)
redis.call('ZADD', P .. 'sessions', exp, sid)
return 1
"""

# ARGV: prefix, session id
_SESSION_CLOSE = """
forget(ARGV[1], ARGV[2])
return 1
"""

# ARGV: prefix, app, t  -> waiting, runner1, count1, ...
_SESSION_COUNTS = """
local P, app, t = ARGV[1], ARGV[2], ARGV[3]
local waiting, attached, out = 0, {}, {}
for _, sid in ipairs(redis.call('ZRANGEBYSCORE', P .. 'sessions:app:' .. app, t, '+inf')) do
  local rid = redis.call('HGET', P .. 'session:' .. sid, 'runner_id')
  if rid == '' then
    waiting = waiting + 1
  elseif rid and live(P, rid, t) then
    attached[rid] = (attached[rid] or 0) + 1
  end
end
out[1] = waiting
for rid, n in pairs(attached) do
  out[#out + 1] = rid
  out[#out + 1] = n
end
return out
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
for _, sid in ipairs(redis.call('ZRANGEBYSCORE', P .. 'sessions', '-inf', '(' .. t)) do
  forget(P, sid)
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
            cache[key] = client.register_script(_DROP + _SESSIONS + body)
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

    async def _session_open(
        self, app_id: str, session_id: str, t: float, expires: float
    ) -> RunnerInfo | None:
        script = await self._runners_script("session_open", _SESSION_OPEN)
        raw = await script(args=[self.prefix, app_id, session_id, repr(t), repr(expires)])
        if not raw:
            return None
        return _decode(dict(zip(raw[::2], raw[1::2], strict=True)))

    async def _session_renew(self, session_id: str, t: float, expires: float) -> bool:
        script = await self._runners_script("session_renew", _SESSION_RENEW)
        return bool(await script(args=[self.prefix, session_id, repr(t), repr(expires)]))

    async def _session_close(self, session_id: str) -> None:
        script = await self._runners_script("session_close", _SESSION_CLOSE)
        await script(args=[self.prefix, session_id])

    async def _session_counts(self, app_id: str, t: float) -> SessionCounts:
        script = await self._runners_script("session_counts", _SESSION_COUNTS)
        raw = await script(args=[self.prefix, app_id, repr(t)])
        rest = raw[1:]
        by_runner = {rid.decode(): int(n) for rid, n in zip(rest[::2], rest[1::2], strict=True)}
        return SessionCounts(int(raw[0]), by_runner)

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
