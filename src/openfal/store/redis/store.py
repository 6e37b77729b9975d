"""Redis store: many machines share one Redis server (``redis://host:port/db``).

Key layout (every key and channel starts with ``prefix``, default ``openfal:``)::

    req:{id}              hash    one request: the RequestRecord fields (None = absent
                                  field, or "" for a number), plus ``_v``, its version
                                  (one more on every change), and ``_w``, the tokens of
                                  the processes to tell about its changes (see "waiting")
    queue:{app_id}        zset    IN_QUEUE ids, score priority * 2**40 + seq
    running               zset    IN_PROGRESS "{app_id}\\n{id}" by lease_expires: the
                                  lease index, and (by member) the running count per app
    created               zset    "{seq:013d}:{id}" by created_at: the one listing index
                                  (newest first; app, owner and status are filtered on
                                  the hashes), which retention purges walk oldest first
    logs:{id}             list    JSON log entries
    events:{id}           list    raw event payloads
    apps                  hash    app_id -> JSON AppRecord
    proc:{token}          channel the changes of the requests this process watches
                                  (payload "{id} {version}", or "{id} *" once deleted)
    work                  channel published when a request enters a queue
    work:{app_id}         channel the same, for that app's requests only

Atomicity: every change touching more than one key is one Lua script (insert, update,
pop-next, append, watch, purge), registered once per client and run with EVALSHA. A
script keeps the record hash and the indexes above consistent, and publishes the change
notification from inside the script, so a notification is never seen before the change
it announces. Scripts never read the server clock: every timestamp comes from Python
(``openfal.store.clock.now``), so tests can move time. Keys are computed inside the
scripts from the prefix, which suits a standalone Redis (or a replica set behind
Sentinel), not Redis Cluster.

Commands are counted (Redis counts the ones a script runs too): a script reads only the
fields it checks (one HMGET) and returns only what the caller does not know. Each
process keeps the records it wrote with their version; an update passes that version,
and the script returns the record as it was (one HGETALL) only when it moved on since.
A completed record this process wrote or read is served from that copy (it changes no
more, until retention purges it): ``known.py`` keeps those copies and the versions heard
of. ``seq`` is assigned by the process: milliseconds
since 2024 (monotonic in the process), so FIFO holds across processes to the
millisecond and exactly within one.

Queue order is a single zset score, ``priority * 2**40 + seq``: exact in a double as
long as ``seq < 2**40`` and ``|priority| < 4096`` (both checked), so ``_queue_rank`` is
one ZCOUNT and claiming compares the head of each app's queue inside one script.

Waiting across processes (``wait_for_change``, ``wait_for_work``) uses pub/sub, with ONE
pub/sub connection per store, subscribed for good to its own channel ``proc:{token}``
and to the ``work`` channels its claimers wait on: waiting costs no command. A reader
task dispatches messages to in-process waiters.

Changes: a request's ``_w`` names the processes that want its changes. The process that
inserts a request puts itself there; another one adds itself (the watch script, which
also returns the current ``_v``) the first time it waits on the request. Every change
script publishes ``"{id} {version}"`` to each of them but the changer, which wakes its
own waiters in-process (``_notify``). A process keeps the highest version it heard of
per request (messages, its own changes, the watch script; a bounded LRU), and the epoch
of its subscription (a count of its breaks) when it was known to be in ``_w``: within
that epoch every later change reaches it.

Lost wake-ups: a change that lands between a caller's read and its wait must end the
wait. The reads that callers follow with a wait (``get``; ``get_logs`` and
``get_events`` read ``_v`` before the list) remember the version they saw, per asyncio
task (a ContextVar
holder owned by the task that reads; child tasks that only wait, like the one
``asyncio.wait_for`` makes on 3.11, share it). A task keeps the *oldest* version read
since its last wait, so ``get`` then ``get_logs`` still notices a status change that
landed between the two. ``wait_for_change`` takes (and forgets) that version and returns
at once if the highest one heard of is newer; otherwise every later change wakes it
(outside the current epoch it first asks the watch script, once). A caller that re-reads after
each wake-up is not woken twice for one change. Lease renewals change no version and
publish nothing (nobody waits for them). ``wait_for_work`` remembers how many messages
its channel had when a claim found the queues empty (``_pop_next``) or
``queue_depth`` was read, and returns at once if more came since; a wait with no
remembered read waits for the next message. When the pub/sub connection fails, every
waiter is woken (anything may have changed meanwhile), direct-run waiters read the
store, and the epoch moves on; the reader reconnects and re-subscribes.

An older store's layout (global counters, ``leases``, per-app sets and listings) is
taken over once by ``open`` (one EXISTS when there is none). Every process of a cluster
must run the same layout: an older one does not hear the newer one's messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from dataclasses import asdict
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.commands.core import AsyncScript

from openfal.store.apps import AppRecord
from openfal.store.clock import now
from openfal.store.contract import Store
from openfal.store.redis.auth import RedisAuth
from openfal.store.redis.codec import (
    _changes_args,
    _column,
    _merge,
    _pairs,
    _unwire,
    _wire,
)
from openfal.store.redis.deploy import RedisDeploy
from openfal.store.redis.history import RedisHistory
from openfal.store.redis.hub import _Channel, _Hub, _saw, _take_seen, _wait_event
from openfal.store.redis.known import Known
from openfal.store.redis.outbox import RedisOutbox
from openfal.store.redis.runners import RedisRunners
from openfal.store.redis.scripts import lua
from openfal.store.requests import (
    LogEntry,
    RequestRecord,
    RequestStatus,
    record_to_row,
    row_to_record,
)

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------- constants

_SHIFT = 2**40  # queue score = priority * _SHIFT + seq
_MAX_PRIORITY = 4096  # |priority| < this keeps every score below 2**53 (exact doubles)
_SEQ_EPOCH = 1_704_067_200.0  # 2024-01-01: seq counts milliseconds since (2**40 ms: 34 y)
_PURGE_BATCH = 500


_LUA_PRELUDE = lua("requests_prelude.lua")
_LUA_INSERT = lua("requests_insert.lua")
_LUA_UPDATE = lua("requests_update.lua")
_LUA_POP = lua("requests_pop.lua")
_LUA_APPEND = lua("requests_append.lua")
_LUA_WATCH = lua("requests_watch.lua")
_LUA_PURGE = lua("requests_purge.lua")
_LUA_MIGRATE = lua("requests_migrate.lua")

# keys of the older layout (before issue 14) that nothing reads any more
_OLD_KEYS = ("running:*", "done:*", "created:app:*", "created:owner:*")


# ---------------------------------------------------------------------- the store


class RedisStore(RedisAuth, RedisOutbox, RedisRunners, RedisDeploy, RedisHistory, Store):
    """A :class:`Store` in Redis (``redis://host:port/db``), shared by many processes.

    ``prefix`` namespaces every key and channel; ``list_scan_limit`` bounds how many
    entries of a listing index ``list_requests`` examines to apply its filters.
    ``retries``: a command that fails on a broken connection (a restarted server) is
    sent again, on a new connection, up to this many times. A command whose reply was
    lost with its connection may so run twice: every hook is a compare-and-set, so the
    second run fails instead of repeating the change (an insert finds its own listing
    entry and succeeds, a claim may leave one request claimed until its lease expires).
    """

    # a realtime session that starts waiting publishes on the work channels
    # (runners_session_open.lua): scalers wait for it instead of polling
    announces_waiting_sessions = True

    _insert_script: AsyncScript
    _update_script: AsyncScript
    _pop_script: AsyncScript
    _append_script: AsyncScript
    _watch_script: AsyncScript
    _purge_script: AsyncScript

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "openfal:",
        list_scan_limit: int = 10_000,
        retries: int = 3,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.url = url
        self.prefix = prefix
        self.list_scan_limit = list_scan_limit
        self.retries = retries
        self._redis: aioredis.Redis | None = None
        self._hub: _Hub | None = None
        self._closed = False
        self._token = object()  # identifies this store in _SEEN
        self._me = uuid.uuid4().hex[:16]  # this process's channel: proc:{_me}
        self._proc = (prefix + "proc:" + self._me).encode()
        self._deploys = (prefix + "deploy").encode()  # deployments or kills changed
        self._last_seq = 0
        # the records this process wrote or read, and the versions it heard of
        self._known = Known()
        self._waits: dict[str, _Channel] = {}  # request id -> its waiters here

    # ------------------------------------------------------------------ lifecycle

    async def open(self) -> None:
        self._closed = False
        if self._redis is not None:
            return
        client = aioredis.Redis.from_url(
            self.url,
            decode_responses=False,
            retry=Retry(ExponentialWithJitterBackoff(base=0.01, cap=1.0), self.retries),
        )
        try:
            await client.ping()
        except BaseException:
            await client.aclose()
            raise
        self._insert_script = client.register_script(_LUA_PRELUDE + _LUA_INSERT)
        self._update_script = client.register_script(_LUA_PRELUDE + _LUA_UPDATE)
        self._pop_script = client.register_script(_LUA_PRELUDE + _LUA_POP)
        self._append_script = client.register_script(_LUA_PRELUDE + _LUA_APPEND)
        self._watch_script = client.register_script(_LUA_PRELUDE + _LUA_WATCH)
        self._purge_script = client.register_script(_LUA_PRELUDE + _LUA_PURGE)
        self._redis = client
        self._hub = _Hub(self.url, self._on_message, self._on_reset)
        # left by an older store (one command when there is none)
        if await client.exists(self._k("leases"), self._k("keys", "revoked")):
            if await client.exists(self._k("leases")):
                await self._migrate(client)
            if await client.exists(self._k("keys", "revoked")):
                await self._migrate_keys()

    async def _migrate(self, client: aioredis.Redis) -> None:
        """Once, on a server an older store used (it left ``leases``): running requests
        join ``running``, so an expired lease still requeues them; the counters and the
        indexes nothing reads any more go. Every process of a cluster runs one version."""
        moved = await client.register_script(_LUA_PRELUDE + _LUA_MIGRATE)(args=[self.prefix])
        log.info("Redis store: moved %s leases to the current key layout", moved)
        for pattern in _OLD_KEYS:
            batch: list[bytes] = []
            async for key in client.scan_iter(match=self._k(pattern), count=1000):
                batch.append(key)
                if len(batch) >= 500:
                    await client.unlink(*batch)
                    batch = []
            if batch:
                await client.unlink(*batch)

    async def close(self) -> None:
        self._closed = True
        hub, self._hub = self._hub, None
        client, self._redis = self._redis, None
        self._on_reset()
        try:
            if hub is not None:
                await hub.close()
        finally:
            if client is not None:
                await client.aclose()

    async def _r(self) -> aioredis.Redis:
        if self._redis is None:
            if self._closed:
                raise RuntimeError("the Redis store is closed")
            await self.open()
        assert self._redis is not None
        return self._redis

    def _k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    # ------------------------------------------------------------------ what this process knows

    def _held(self, request_id: str) -> RequestRecord | None:
        """The record as this process last wrote or heard it, while it is the latest
        version heard of and every later change reaches this process (it is in the
        record's ``_w`` and its channel stayed subscribed since)."""
        found = self._known.record(request_id)
        if found is None or found[0].is_done:
            return None  # done: _get serves it (after its retention check)
        rec, version = found
        heard = self._known.heard_of(request_id)
        epoch = self._subscribed_epoch()
        if epoch is None or heard != (version, epoch):
            return None
        self._saw(request_id, version)
        return rec

    def _subscribed_epoch(self) -> int | None:
        """The hub's epoch while this process's channel is subscribed, else None."""
        hub = self._hub
        if hub is None or hub.channel(self._proc) is None:
            return None
        return hub.epoch

    def _on_message(self, channel: bytes, data: bytes) -> None:
        if channel == self._deploys:
            self._deploy_changed().set()
            return
        if channel == self._keys_channel():
            self._key_announced(data)
            return
        if channel != self._proc:
            return  # work: the channel's waiters are woken by the hub
        raw_id, _, raw_version = bytes(data).rpartition(b" ")
        request_id = raw_id.decode()
        if raw_version == b"*":  # deleted
            self._known.deleted(request_id)
            version = None
        else:
            version = int(raw_version)
            self._known.heard(request_id, version)
        fut = self._done.get(request_id)
        if fut is not None and not fut.done():
            fut.set_result(None)  # changed elsewhere: the waiter reads it
        ch = self._waits.get(request_id)
        if ch is not None:
            if version is None:
                ch.wake(forced=True)
            else:
                ch.messages += 1
                ch.wake()

    def _on_reset(self) -> None:
        """The subscription broke (or the store closes): messages may have been lost (the
        epoch moved on: the next wait asks the watch script)."""
        self._wake_done()
        for ch in list(self._waits.values()):
            ch.wake(forced=True)
        self._deploy_changed().set()  # a deploy announcement may be among the lost
        self._no_keys_at = None  # so may a key's: ask the server again

    async def _announce_deploy(self) -> None:
        await super()._announce_deploy()
        await (await self._r()).publish(self._deploys, b"1")

    async def _listen_for_deploys(self) -> None:
        hub = self._hub
        if hub is None or hub.channel(self._deploys) is not None:
            return
        if await hub.ensure(self._deploys, asyncio.get_running_loop().time() + 5.0):
            self._deploy_changed().set()  # a change just before may not have reached us

    # ------------------------------------------------------------------ waiting

    async def _read_list(self, kind: str, request_id: str, since: int) -> list[bytes]:
        # the version first: a change between the two reads makes a wait return early
        async with (await self._r()).pipeline(transaction=False) as pipe:
            pipe.hget(self._k("req", request_id), "_v")
            pipe.lrange(self._k(kind, request_id), max(since, 0), -1)
            version, rows = await pipe.execute()
        self._saw(request_id, int(version or 0))
        return [bytes(row) for row in rows]

    def _saw(self, request_id: str, version: int) -> None:
        _saw((self._token, request_id), version)

    def _work_channel(self, key: str | None) -> bytes:
        return (self._k("work", key) if key is not None else self._k("work")).encode()

    def _work_mark(self, key: str | None) -> tuple[bytes, int, int]:
        """Where the work channel of ``key`` (an app, None: any) stands, taken before a
        read that may find no work: a wait that follows returns at once if work was
        published since (``(name, -1, -1)``: not subscribed, it cannot tell)."""
        name = self._work_channel(key)
        hub = self._hub
        ch = hub.channel(name) if hub is not None else None
        if hub is None or ch is None:
            return (name, -1, -1)
        return (name, hub.epoch, ch.messages)

    async def _wait_change(self, request_id: str, timeout: float) -> bool:
        seen: int | None = _take_seen((self._token, request_id))
        if timeout <= 0:
            return False
        await self._r()
        hub = self._hub
        assert hub is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if await hub.ensure(self._proc, deadline) is None:
            return self._closed
        known = self._known.heard_of(request_id)
        if known is None or known[1] != hub.epoch:
            epoch = hub.epoch  # before: a break during the call makes it stale at once
            try:
                version = int(await self._watch_script(args=[self.prefix, request_id, self._me]))
            except Exception:  # the server is away: the caller looks again a bit later
                log.debug("watching %s failed", request_id, exc_info=True)
                await asyncio.sleep(max(0.0, min(deadline - loop.time(), 0.5)))
                return True
            if version:  # (0: no such request, nothing to watch)
                self._known.heard(request_id, version, epoch)
        if seen is not None and self._version_heard(request_id) > seen:
            return True
        ch = self._waits.get(request_id)
        if ch is None:
            ch = self._waits[request_id] = _Channel(None)
        ch.waiters += 1
        forced, messages = ch.forced, ch.messages
        try:
            while True:
                if self._closed or ch.forced != forced:
                    return True
                if seen is None:
                    if ch.messages != messages:
                        return True
                else:
                    if self._version_heard(request_id) > seen:
                        return True
                    if self._known.heard_of(request_id) is None and ch.messages != messages:
                        return True  # forgotten meanwhile (evicted): look again
                if not await _wait_event(ch.waiter_event(), deadline):
                    return False
        finally:
            ch.waiters -= 1
            if ch.waiters == 0 and self._waits.get(request_id) is ch:
                del self._waits[request_id]

    def _version_heard(self, request_id: str) -> int:
        known = self._known.heard_of(request_id)
        return known[0] if known is not None else 0

    async def _wait_work(self, timeout: float, key: str | None) -> None:
        seen: tuple[bytes, int, int] | None = _take_seen((self._token, None))
        if timeout <= 0:
            return
        await self._r()
        hub = self._hub
        assert hub is not None
        name = self._work_channel(key)
        deadline = asyncio.get_running_loop().time() + timeout
        ch = await hub.ensure(name, deadline)
        if ch is None:
            return
        if seen is not None and seen != (name, hub.epoch, seen[2]):
            return  # read before the subscription, or for another channel: look again
        if seen is not None and ch.messages != seen[2]:
            return
        forced, messages = ch.forced, ch.messages
        while not self._closed and ch.forced == forced and ch.messages == messages:
            if not await _wait_event(ch.waiter_event(), deadline):
                return

    def _notify(self, request_id: str) -> None:
        super()._notify(request_id)
        ch = self._waits.get(request_id)
        if ch is not None:
            ch.wake(forced=True)

    def _notify_work(self, app_id: str | None = None) -> None:
        super()._notify_work(app_id)
        hub = self._hub
        if hub is None:
            return
        if app_id is None:
            hub.wake_all(self._k("work").encode())
            return
        for name in (self._work_channel(None), self._work_channel(app_id)):
            ch = hub.channel(name)
            if ch is not None:
                ch.wake(forced=True)

    # ------------------------------------------------------------------ requests

    def _next_seq(self) -> int:
        seq = max(self._last_seq + 1, int((time.time() - _SEQ_EPOCH) * 1000))
        if seq >= _SHIFT:
            raise RuntimeError("openfal: request sequence exhausted")
        self._last_seq = seq
        return seq

    async def _subscribed(self) -> None:
        """This process's channel is subscribed (once): changes of what it inserts reach it."""
        await self._r()
        hub = self._hub
        if hub is not None and hub.channel(self._proc) is None:
            deadline = asyncio.get_running_loop().time() + 10
            with contextlib.suppress(Exception):  # the server is away: the write says so
                await hub.ensure(self._proc, deadline)

    async def _insert(self, rec: RequestRecord, *, minted: bool = False) -> RequestRecord:
        if not -_MAX_PRIORITY < rec.priority < _MAX_PRIORITY:
            raise ValueError(f"priority {rec.priority} out of range")
        await self._subscribed()
        row = record_to_row(rec)
        row["seq"] = seq = self._next_seq()
        args: list[bytes | str | int] = []
        for name, value in row.items():
            if value is not None:
                args += [name, _wire(name, value)]
        args += ["_v", "1", "_w", self._me]
        status = rec.status
        if status is RequestStatus.IN_QUEUE:
            score = str(int(rec.priority) * _SHIFT + seq)
        elif status is RequestStatus.IN_PROGRESS and rec.lease_expires is not None:
            score = repr(float(rec.lease_expires))
        else:
            score = "0"
        epoch = self._subscribed_epoch()  # before: a break during the call counts
        inserted = await self._insert_script(
            args=[
                self.prefix,
                rec.id,
                status.value,
                rec.app_id,
                score,
                f"{seq:013d}:{rec.id}",
                repr(float(rec.created_at)),
                "0" if minted else "1",
                str(seq),
                len(args) // 2,
                *args,
            ]
        )
        if not inserted:
            raise ValueError(f"request {rec.id!r} already exists")
        stored = row_to_record(row)  # as stored: JSON fields round-trip through their encoding
        self._known.remember(stored, 1)
        self._known.heard(rec.id, 1, epoch)
        return stored

    async def _get(self, request_id: str) -> RequestRecord | None:
        # remembers the version read: a wait that follows returns at once if it moved on
        done = self._known.done(request_id, now() - self.retention)  # else maybe purged
        if done is not None:
            self._saw(request_id, done[1])
            return done[0]
        raw = cast(dict[bytes, bytes], await (await self._r()).hgetall(self._k("req", request_id)))
        if not raw:
            self._saw(request_id, 0)
            return None
        rec, version = _unwire(raw)
        self._saw(request_id, version)
        if rec.is_done:
            self._known.remember(rec, version)
        return rec

    async def _update(
        self,
        request_id: str,
        expect_status: set[RequestStatus],
        changes: dict[str, Any],
        *,
        worker_id: str | None = None,
        lease_before: float | None = None,
    ) -> RequestRecord | None:
        await self._r()
        statuses = [RequestStatus(s).value for s in expect_status]
        # renewing a lease is not a change anyone waits for
        quiet = bool(changes) and set(changes) <= {"lease_expires"}
        mine = self._known.record(request_id)
        result = await self._update_script(
            args=[
                self.prefix,
                request_id,
                self._me,
                int(quiet),
                int(worker_id is not None),
                worker_id or "",
                # inf is not a Lua numeral: any real lease is below 1e300
                repr(min(float(lease_before), 1e300)) if lease_before is not None else "",
                str(mine[1]) if mine is not None else "",
                len(statuses),
                *statuses,
                *_changes_args(changes),
            ]
        )
        if not result:
            return None
        version = int(result[0])
        if len(result) > 1:
            before = _unwire(_pairs(result[1]))[0]
        else:
            assert mine is not None
            before = mine[0]
        rec = _merge(before, changes)
        self._known.remember(rec, version)
        self._known.heard(request_id, version)
        return rec

    async def _pop_next(self, app_ids: list[str], changes: dict[str, Any]) -> RequestRecord | None:
        await self._r()
        apps = list(dict.fromkeys(app_ids))
        # before the read: work published after it wakes the wait (the key wait_for_work uses)
        mark = self._work_mark(app_ids[0] if len(app_ids) == 1 else None)
        sets: list[bytes | str] = []
        for name, value in changes.items():
            sets += [name, _wire(name, _column(name, value))]
        result = await self._pop_script(
            args=[self.prefix, self._me, len(apps), *apps, len(sets) // 2, *sets]
        )
        if not result:
            _saw((self._token, None), mark)
            return None
        version = int(result[0])
        before = _unwire(_pairs(result[1]))[0]
        rec = _merge(before, {**changes, "attempts": before.attempts + 1})
        self._known.remember(rec, version)
        self._known.heard(rec.id, version)
        return rec

    async def _queue_rank(self, rec: RequestRecord) -> int:
        score = int(rec.priority) * _SHIFT + rec.seq
        r = await self._r()
        return int(await r.zcount(self._k("queue", rec.app_id), "-inf", f"({score}"))

    async def _count(self, app_id: str, status: RequestStatus) -> int:
        r = await self._r()
        status = RequestStatus(status)
        if status is RequestStatus.IN_QUEUE:
            mark = self._work_mark(app_id)
            depth = int(await r.zcard(self._k("queue", app_id)))
            _saw((self._token, None), mark)
            return depth
        if status is RequestStatus.IN_PROGRESS:
            head = app_id.encode() + b"\n"
            members = cast(list[bytes], await r.zrange(self._k("running"), 0, -1))
            return sum(1 for m in members if m.startswith(head))
        found = 0  # completed: rare (no index of its own), a walk of the app's listing
        start, batch = 0, 500
        while True:
            members = cast(
                list[bytes],
                await r.zrange(self._k("created", "app", app_id), start, start + batch - 1),
            )
            if not members:
                return found
            async with r.pipeline(transaction=False) as pipe:
                for m in members:
                    pipe.hget(self._k("req", m.split(b":", 1)[1].decode()), "status")
                found += sum(1 for st in await pipe.execute() if st == status.value.encode())
            start += batch

    async def _expired_leases(self, t: float) -> list[RequestRecord]:
        r = await self._r()
        members = cast(
            list[bytes], await r.zrangebyscore(self._k("running"), "-inf", f"({float(t)!r}")
        )
        ids = [m.split(b"\n", 1)[1] for m in members]
        expired = [
            rec
            for rec in await self._fetch(ids)
            if rec.status is RequestStatus.IN_PROGRESS
            and rec.lease_expires is not None
            and rec.lease_expires < t
        ]
        expired.sort(key=lambda rec: rec.seq)
        return expired

    async def _fetch(self, ids: list[bytes]) -> list[RequestRecord]:
        """The records of ``ids`` in that order, skipping those that are gone."""
        if not ids:
            return []
        async with (await self._r()).pipeline(transaction=False) as pipe:
            for request_id in ids:
                pipe.hgetall(self._k("req", request_id.decode()))
            raws = await pipe.execute()
        return [_unwire(raw)[0] for raw in raws if raw]

    async def _list(
        self, app_id: str | None, status: RequestStatus | None, owner: str | None, limit: int
    ) -> list[RequestRecord]:
        if limit <= 0:
            return []
        r = await self._r()
        found: list[bytes] = []
        start, batch = 0, max(limit, 100)
        while len(found) < limit and start < self.list_scan_limit:
            stop = min(start + batch, self.list_scan_limit) - 1
            members = cast(list[bytes], await r.zrevrange(self._k("created"), start, stop))
            if not members:
                break
            found += await self._filter_ids(
                [m.split(b":", 1)[1] for m in members], app_id, status, owner
            )
            start += batch
        records = await self._fetch(found[:limit])
        # the state may have moved on between the two reads
        return [
            rec
            for rec in records
            if (app_id is None or rec.app_id == app_id)
            and (status is None or rec.status is status)
            and (owner is None or rec.owner == owner)
        ]

    async def _delete_completed_before(self, t: float) -> int:
        await self._r()
        total, offset = 0, 0
        while True:
            out: list[Any] = await self._purge_script(
                args=[self.prefix, f"({float(t)!r}", offset, _PURGE_BATCH]
            )
            scanned, removed = int(out[0]), [bytes(x).decode() for x in out[1:]]
            for request_id in removed:
                if request_id:
                    self._changed.pop(request_id, None)
                    self._known.deleted(request_id)
                    total += 1
            offset += scanned - len(removed)  # the ones kept (still active, or newer)
            if scanned < _PURGE_BATCH:
                return total

    # ------------------------------------------------------------------ logs and events

    async def _append(self, request_id: str, kind: str, items: list[bytes | str]) -> None:
        await self._r()
        version = int(
            await self._append_script(args=[self.prefix, request_id, self._me, kind, *items])
        )
        if version:
            self._known.heard(request_id, version)
            mine = self._known.record(request_id)
            if mine is not None and mine[1] == version - 1:
                self._known.remember(mine[0], version)  # the record itself did not change

    async def _append_logs(self, request_id: str, entries: list[LogEntry]) -> None:
        await self._append(request_id, "logs", [json.dumps(e.to_json()) for e in entries])

    async def _append_event(self, request_id: str, data: bytes) -> None:
        await self._append(request_id, "events", [bytes(data)])

    async def _get_logs(self, request_id: str, since: int) -> list[LogEntry]:
        rows = await self._read_list("logs", request_id, since)
        return [LogEntry(**json.loads(row)) for row in rows]

    async def _get_events(self, request_id: str, since: int) -> list[bytes]:
        return await self._read_list("events", request_id, since)

    # ------------------------------------------------------------------ apps

    async def _put_app(self, app: AppRecord) -> None:
        r = await self._r()
        await r.hset(self._k("apps"), app.app_id, json.dumps(asdict(app)))

    async def _get_app(self, app_id: str) -> AppRecord | None:
        raw = await (await self._r()).hget(self._k("apps"), app_id)
        return AppRecord(**json.loads(raw)) if raw is not None else None

    async def _list_apps(self) -> list[AppRecord]:
        raw = cast(dict[bytes, bytes], await (await self._r()).hgetall(self._k("apps")))
        return [AppRecord(**json.loads(raw[k])) for k in sorted(raw)]

    async def _delete_app(self, app_id: str) -> bool:
        return int(await (await self._r()).hdel(self._k("apps"), app_id)) > 0
