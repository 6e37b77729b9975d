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

from openfal.store.redis.scripts import lua
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

_DROP = lua("runners_drop.lua")

# ARGV: prefix, id, app, limit, t, expires, nfields, k1, v1, ...  -> 1 taken, 0 not
_ACQUIRE = lua("runners_acquire.lua")

# ARGV: prefix, t, expires, nrunners, then per runner: id, app, nfields, k1, v1, ...
#   -> the ids that were not live
_HEARTBEAT = lua("runners_heartbeat.lua")

# ARGV: prefix, id, keep, t  -> 1 when now STOPPING
_RETIRE = lua("runners_retire.lua")

# ARGV: prefix, id
_RELEASE = lua("runners_release.lua")

_SESSIONS = lua("runners_sessions.lua")

# ARGV: prefix, app, session id, t, expires  -> the runner (HGETALL), or false: waiting
_SESSION_OPEN = lua("runners_session_open.lua")

# ARGV: prefix, session id, t, expires  -> 1 renewed, 0 gone
_SESSION_RENEW = lua("runners_session_renew.lua")

# ARGV: prefix, session id
_SESSION_CLOSE = lua("runners_session_close.lua")

# ARGV: prefix, app, t  -> waiting, runner1, count1, ...
_SESSION_COUNTS = lua("runners_session_counts.lua")

# ARGV: prefix, t  -> the number of runner records deleted
_PURGE = lua("runners_purge.lua")


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
        # no MULTI/EXEC (two commands of the four, every heartbeat): the expiry entry goes
        # first, so a connection lost between the two leaves at most an entry without its
        # record, which listing skips and the purge removes once it expires
        async with (await self._r()).pipeline(transaction=False) as pipe:
            pipe.zadd(self.prefix + "workers:exp", {info.worker_id: info.expires_at})
            pipe.hset(self.prefix + "workers", info.worker_id, json.dumps(info.to_json()))
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
