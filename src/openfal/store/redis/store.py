"""Redis store: many machines share one Redis server (``redis://host:port/db``).

Key layout (every key and channel starts with ``prefix``, default ``openfal:``)::

    req:{id}              hash    one request: the RequestRecord fields (None = absent
                                  field) plus ``_v``, its version (see "waiting")
    seq                   string  INCR counter assigning ``seq``
    version               string  INCR counter, one tick per change of any request
    workver               string  INCR counter, one tick per request entering a queue
    queue:{app_id}        zset    IN_QUEUE ids, score priority * 2**40 + seq
    running:{app_id}      set     IN_PROGRESS ids
    done:{app_id}         set     COMPLETED ids
    leases                zset    IN_PROGRESS ids by lease_expires
    completed             zset    COMPLETED ids by completed_at (retention purges)
    created               zset    "{seq:013d}:{id}" by created_at (listing, newest first)
    created:app:{app_id}  zset    the same, per app
    created:owner:{owner} zset    the same, per owner
    logs:{id}             list    JSON log entries
    events:{id}           list    raw event payloads
    apps                  hash    app_id -> JSON AppRecord
    changed:{id}          channel published on every change of a request (payload: ``_v``)
    work                  channel published when a request enters a queue (payload: workver)
    work:{app_id}         channel the same, for that app's requests only

Atomicity: every change touching more than one key is one Lua script (insert, update,
pop-next, append, purge), registered once per client and run with EVALSHA. A script
keeps the record hash and all the indexes above consistent, and publishes the change
notification from inside the script, so a notification is never seen before the change
it announces. Scripts never read the server clock: every timestamp comes from Python
(``openfal.store.clock.now``), so tests can move time. Keys are computed inside the
scripts from the prefix, which suits a standalone Redis (or a replica set behind
Sentinel), not Redis Cluster.

Queue order is a single zset score, ``priority * 2**40 + seq``: exact in a double as
long as ``seq < 2**40`` and ``|priority| < 4096`` (both checked), so ``_queue_rank`` is
one ZCOUNT and claiming compares the head of each app's queue inside one script.

Waiting across processes (``wait_for_change``, ``wait_for_work``) uses pub/sub, with ONE
pub/sub connection per store: a reader task dispatches messages to in-process waiters,
and a channel is subscribed when its first waiter arrives and unsubscribed when its last
one leaves (each waiter waits for the server's subscribe confirmation).

Lost wake-ups: a change that lands between a caller's read and its wait is published
before the wait has subscribed, so the message alone cannot wake it. Versions close the
gap. Every change of a request sets its ``_v`` to the next value of the global
``version`` counter (versions only grow, even when an id is purged and reused), and the
reads that callers follow with a wait (``get``, ``get_logs``, ``get_events``, atomically
with ``_v``) remember the version they saw, per asyncio task (a ContextVar holder owned
by the task that reads; child tasks that only wait, like the one ``asyncio.wait_for``
makes on 3.11, share it). A task keeps the *oldest* version read since its last wait, so
``get`` then ``get_logs`` still notices a status change that landed between the two.
``wait_for_change`` takes (and forgets) that version, subscribes, waits for the
server's confirmation, then reads ``_v`` once: if it grew, something changed since the
caller's read and it returns at once; otherwise every later change is published after
the subscription and wakes it. Messages carrying a version already seen are ignored, so
a caller that re-reads after each wake-up is not woken twice for one change. Lease
renewals change no version and publish nothing (nobody waits for them).
``wait_for_work`` does the same with ``workver``, remembered when a claim finds every
queue empty (``_pop_next``) and when ``queue_depth`` is read. A wait with no remembered
read waits for the next message. In-process changes also wake local waiters at once
(``_notify`` / ``_notify_work``), without waiting for the message. When the pub/sub
connection fails, every waiter is woken (anything may have changed meanwhile) and the
reader reconnects and re-subscribes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import weakref
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import asdict, dataclass, fields
from typing import Any, cast

import redis.asyncio as aioredis
from redis.asyncio.connection import Connection
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.commands.core import AsyncScript

from openfal.store.apps import AppRecord
from openfal.store.contract import Store
from openfal.store.redis.auth import RedisAuth
from openfal.store.redis.deploy import RedisDeploy
from openfal.store.redis.history import RedisHistory
from openfal.store.redis.outbox import RedisOutbox
from openfal.store.redis.runners import RedisRunners
from openfal.store.redis.scripts import lua
from openfal.store.requests import (
    JSON_FIELDS,
    LogEntry,
    RequestRecord,
    RequestStatus,
    record_to_row,
    row_to_record,
)

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------- field encoding

_INT_FIELDS = frozenset({"seq", "priority", "attempts", "status_code", "cancel_requested"})
_FLOAT_FIELDS = frozenset(
    {"created_at", "started_at", "completed_at", "start_deadline", "lease_expires"}
)
_BYTES_FIELDS = frozenset({"input", "result"})
_FIELDS = tuple(f.name for f in fields(RequestRecord))
_STR_FIELDS = frozenset(_FIELDS) - _INT_FIELDS - _FLOAT_FIELDS - _BYTES_FIELDS
if not {"id", "app_id", "status", *JSON_FIELDS} <= _STR_FIELDS:  # pragma: no cover
    raise RuntimeError("openfal.store.redis: field types out of sync with RequestRecord")

_SHIFT = 2**40  # queue score = priority * _SHIFT + seq
_MAX_PRIORITY = 4096  # |priority| < this keeps every score below 2**53 (exact doubles)
_PURGE_BATCH = 500


def _column(name: str, value: Any) -> Any:
    """A changed field as :func:`record_to_row` writes it."""
    if name not in _FIELDS:
        raise KeyError(f"unknown request field {name!r}")
    if value is None:
        return None
    if name == "status":
        return RequestStatus(value).value
    if name in JSON_FIELDS:
        return json.dumps(value)
    if name == "cancel_requested":
        return int(value)
    return value


def _wire(name: str, value: Any) -> bytes | str:
    """A row value (see :func:`record_to_row`) as stored in the hash."""
    if name in _BYTES_FIELDS:
        return bytes(value)
    if name in _INT_FIELDS:
        return str(int(value))
    if name in _FLOAT_FIELDS:
        return repr(float(value))
    return str(value)


def _unwire(raw: dict[bytes, bytes]) -> tuple[RequestRecord, int]:
    """A request hash back to its record, and its version."""
    row: dict[str, Any] = {}
    for name in _FIELDS:
        value = raw.get(name.encode())
        if value is None:
            row[name] = None
        elif name in _BYTES_FIELDS:
            row[name] = bytes(value)
        elif name in _INT_FIELDS:
            row[name] = int(value)
        elif name in _FLOAT_FIELDS:
            row[name] = float(value)
        else:
            row[name] = value.decode()
    if row["cancel_requested"] is None:
        row["cancel_requested"] = 0
    return row_to_record(row), int(raw.get(b"_v", b"0"))


def _pairs(flat: list[bytes]) -> dict[bytes, bytes]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _changes_args(changes: dict[str, Any]) -> list[bytes | str | int]:
    """``nsets, k1, v1, ..., ndels, d1, ...`` as the scripts' ``apply`` reads them."""
    sets: list[bytes | str | int] = []
    dels: list[bytes | str | int] = []
    for name, value in changes.items():
        column = _column(name, value)
        if column is None:
            dels.append(name)
        else:
            sets += [name, _wire(name, column)]
    return [len(sets) // 2, *sets, len(dels), *dels]


# ---------------------------------------------------------------------- Lua scripts
#
# ARGV[1] is always the key prefix. Values read from hashes are passed back to Redis as
# strings (no float round trips through Lua); numbers handed to redis.call are converted
# by Redis exactly.

_LUA_PRELUDE = lua("requests_prelude.lua")

# ARGV: prefix, id, nfields, k1, v1, ...  -> seq, or false when the id exists
_LUA_INSERT = lua("requests_insert.lua")

# ARGV: prefix, id, quiet, check_worker, worker, lease_before ('' = any), nexpect, s1..,
#   <changes>  -> the new record (HGETALL), or false when the compare-and-set fails
_LUA_UPDATE = lua("requests_update.lua")

# ARGV: prefix, napps, app1.., <changes>
#   -> the claimed record (HGETALL), or workver (an integer) when every queue is empty
_LUA_POP = lua("requests_pop.lua")

# ARGV: prefix, id, 'logs' | 'events', item1, ...
_LUA_APPEND = lua("requests_append.lua")

# ARGV: prefix, max score ('(t'), limit  -> the deleted ids
_LUA_PURGE = lua("requests_purge.lua")


# ---------------------------------------------------------------------- waiting


class _Seen:
    """Versions a task has read and not yet waited on: {(store, request id or None for
    work): version}. Kept oldest first per key, and bounded."""

    LIMIT = 64

    def __init__(self, task: asyncio.Task[Any] | None) -> None:
        self.task = weakref.ref(task) if task is not None else None
        self.versions: dict[tuple[object, str | None], int] = {}


# The holder of the current task. Tasks started by it (asyncio.wait_for in 3.11 runs
# the wait in one) inherit it, so a wait there consumes the version its parent read;
# a task that reads makes its own, so sibling readers never share one.
_SEEN: ContextVar[_Seen | None] = ContextVar("openfal_redis_seen", default=None)


def _saw(key: tuple[object, str | None], version: int) -> None:
    """Remember a read of ``key`` at ``version`` (the oldest since the last wait wins)."""
    task = asyncio.current_task()
    seen = _SEEN.get()
    if seen is None or seen.task is None or seen.task() is not task:
        seen = _Seen(task)
        _SEEN.set(seen)
    if key not in seen.versions:
        if len(seen.versions) >= _Seen.LIMIT:
            del seen.versions[next(iter(seen.versions))]
        seen.versions[key] = version


def _take_seen(key: tuple[object, str | None]) -> int | None:
    """The version remembered for ``key``, forgotten now: a wait consumes it."""
    seen = _SEEN.get()
    return seen.versions.pop(key, None) if seen is not None else None


@dataclass(eq=False)
class _Channel:
    name: bytes
    waiters: int = 0
    inflight: bool = False  # a SUBSCRIBE/UNSUBSCRIBE awaits the server's reply
    subscribed: bool = False  # the server's state, as of the last reply
    version: int = 0  # highest version announced on the channel
    messages: int = 0  # messages received
    forced: int = 0  # wake-ups that are not messages: in-process changes, lost connection
    event: asyncio.Event | None = None  # set, then replaced, on every wake-up

    @property
    def ready(self) -> bool:
        """Subscribed and confirmed: every message published from now on arrives."""
        return self.subscribed and not self.inflight

    def wake(self, forced: bool = False) -> None:
        if forced:
            self.forced += 1
        event, self.event = self.event, None
        if event is not None:
            event.set()

    def waiter_event(self) -> asyncio.Event:
        if self.event is None:
            self.event = asyncio.Event()
        return self.event


async def _wait_event(event: asyncio.Event, deadline: float) -> bool:
    remaining = deadline - asyncio.get_running_loop().time()
    if remaining <= 0:
        return False
    try:
        await asyncio.wait_for(event.wait(), None if math.isinf(remaining) else remaining)
        return True
    except TimeoutError:
        return False


class _Hub:
    """One pub/sub connection, a reader task, and per-channel waiter bookkeeping.

    At most one SUBSCRIBE/UNSUBSCRIBE per channel is in flight: the server's reply says
    where the channel stands, and :meth:`_sync` then sends whatever brings it to what the
    waiters need (subscribed while any wait, unsubscribed otherwise).

    The connection comes from a client of its own whose commands never retry, and every
    send or (re)connect happens under ``_lock``: only one task at a time ever connects
    it. After a failure the reader reconnects; redis-py then re-subscribes the channels
    it knows and :meth:`_on_reconnect` records that, leaving the rest to the next holder
    of the lock (:meth:`_resync`).
    """

    def __init__(self, url: str) -> None:
        self._url = url
        self._client: aioredis.Redis | None = None
        self._pubsub: Any = None  # redis.asyncio.client.PubSub (unannotated)
        self._reader: asyncio.Task[None] | None = None
        self._channels: dict[bytes, _Channel] = {}
        self._lock = asyncio.Lock()
        self._dirty = False  # reconnected: channels need _resync
        self._closed = False

    async def _start(self) -> None:
        async with self._lock:
            if self._closed:
                raise RuntimeError("the Redis store is closed")
            if self._pubsub is not None:
                return
            client = aioredis.Redis.from_url(
                self._url,
                decode_responses=False,
                retry=Retry(NoBackoff(), 0),  # the reader reconnects, nobody else
                socket_connect_timeout=10,
            )
            pubsub: Any = client.pubsub()
            try:
                await pubsub.connect()
            except BaseException:
                await pubsub.aclose()
                await client.aclose()
                raise
            pubsub.connection.register_connect_callback(self._on_reconnect)
            self._client, self._pubsub = client, pubsub
            self._reader = asyncio.get_running_loop().create_task(
                self._read(pubsub), name="openfal-redis-pubsub"
            )

    async def close(self) -> None:
        self._closed = True
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            await asyncio.wait([reader])
        for ch in self._channels.values():
            ch.wake(forced=True)
        self._channels.clear()
        async with self._lock:
            pubsub, self._pubsub = self._pubsub, None
            client, self._client = self._client, None
            try:
                if pubsub is not None:
                    await pubsub.aclose()
            finally:
                if client is not None:
                    await client.aclose()

    # -- waiting

    def force(self, name: bytes) -> None:
        ch = self._channels.get(name)
        if ch is not None:
            ch.wake(forced=True)

    async def wait(
        self,
        name: bytes,
        seen: int | None,
        current: Callable[[], Awaitable[int]],
        timeout: float,
    ) -> bool:
        """Wait for a message on ``name`` newer than ``seen`` (any message when None).

        ``current()`` reads the version now; it is checked once the subscription is
        confirmed, which closes the window between the caller's read and the subscription.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if timeout <= 0:
            return False
        await self._start()
        ch = self._channels.get(name)
        if ch is None:
            ch = self._channels[name] = _Channel(name)
        ch.waiters += 1
        forced, messages = ch.forced, ch.messages
        checked = seen is None
        try:
            try:
                await self._sync(ch)
            except Exception:  # the connection broke: the reader reconnects and wakes us
                log.debug("subscribing %r failed", name, exc_info=True)
            while True:
                if self._closed or ch.forced != forced:
                    return True
                if ch.ready:
                    if not checked:
                        checked = True
                        assert seen is not None
                        if await current() > seen:
                            return True
                        continue
                    if seen is None and ch.messages != messages:
                        return True
                    if seen is not None and ch.version > seen:
                        return True
                if not await _wait_event(ch.waiter_event(), deadline):
                    return False
        finally:
            ch.waiters -= 1
            if ch.waiters == 0:
                try:
                    await self._sync(ch)
                except Exception:  # the reader resynchronises after reconnecting
                    log.debug("unsubscribing %r failed", name, exc_info=True)

    async def _sync(self, ch: _Channel) -> None:
        async with self._lock:
            await self._resync()
            await self._sync_locked(ch)

    async def _resync(self) -> None:
        """After a reconnect: bring every channel to what its waiters need (lock held)."""
        while self._dirty and not self._closed:
            self._dirty = False
            for ch in list(self._channels.values()):
                await self._sync_locked(ch)

    async def _sync_locked(self, ch: _Channel) -> None:
        """Send what brings ``ch`` to the state its waiters need, if nothing is in flight."""
        pubsub = self._pubsub
        if ch.inflight or self._closed or pubsub is None:
            return
        want = ch.waiters > 0
        if want == ch.subscribed:
            if want:
                ch.wake()  # ready: waiters go on to their version check
            elif self._channels.get(ch.name) is ch:
                del self._channels[ch.name]
            return
        if not pubsub.connection.is_connected:
            return  # the reader reconnects, then _resync
        ch.inflight = True
        try:
            if want:
                await pubsub.subscribe(ch.name)
            else:
                await pubsub.unsubscribe(ch.name)
        except BaseException:
            ch.inflight = False
            raise

    # -- reading

    async def _read(self, pubsub: Any) -> None:
        backoff = 0.05
        while True:
            try:
                async with self._lock:
                    if not pubsub.connection.is_connected:
                        await pubsub.connection.connect()  # calls _on_reconnect
                    await self._resync()
                msg = await pubsub.get_message(timeout=None)
                if msg is not None:
                    await self._dispatch(msg)
                backoff = 0.05
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("Redis pub/sub connection failed (%s); reconnecting", e)
                self._lost()
                with contextlib.suppress(Exception):
                    await pubsub.connection.disconnect(nowait=True)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)

    async def _dispatch(self, msg: dict[str, Any]) -> None:
        kind, name = msg["type"], msg["channel"]
        if kind == "message":
            ch = self._channels.get(name)
            if ch is None:
                return
            ch.messages += 1
            try:
                version = int(msg["data"])
            except ValueError:  # '*': deleted, or logs of an unknown request
                ch.wake(forced=True)
                return
            ch.version = max(ch.version, version)
            ch.wake()
        elif kind in ("subscribe", "unsubscribe"):
            ch = self._channels.get(name)
            if ch is None:
                if kind == "unsubscribe":
                    return
                ch = self._channels[name] = _Channel(name)  # a stray one: drop it
            ch.inflight = False
            ch.subscribed = kind == "subscribe"
            await self._sync(ch)

    def _lost(self) -> None:
        """The connection failed: the server forgot our subscriptions; wake every waiter."""
        for ch in list(self._channels.values()):
            ch.inflight = False
            ch.subscribed = False
            ch.wake(forced=True)

    def _on_reconnect(self, conn: Connection) -> None:
        """Called by redis-py once it re-sent SUBSCRIBE for the channels it knows."""
        pubsub = self._pubsub
        if pubsub is None:
            return
        for ch in list(self._channels.values()):
            ch.subscribed = False
            ch.inflight = ch.name in pubsub.channels
            ch.wake(forced=True)  # messages may have been missed meanwhile
        self._dirty = True


# ---------------------------------------------------------------------- the store


class RedisStore(RedisAuth, RedisOutbox, RedisRunners, RedisDeploy, RedisHistory, Store):
    """A :class:`Store` in Redis (``redis://host:port/db``), shared by many processes.

    ``prefix`` namespaces every key and channel; ``list_scan_limit`` bounds how many
    entries of a listing index ``list_requests`` examines to apply its filters.
    ``retries``: a command that fails on a broken connection (a restarted server) is
    sent again, on a new connection, up to this many times. A command whose reply was
    lost with its connection may so run twice: every hook is a compare-and-set, so the
    second run fails instead of repeating the change (an enqueue then raises "already
    exists", a claim may leave one request claimed until its lease expires).
    """

    _insert_script: AsyncScript
    _update_script: AsyncScript
    _pop_script: AsyncScript
    _append_script: AsyncScript
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
        self._purge_script = client.register_script(_LUA_PRELUDE + _LUA_PURGE)
        self._redis = client
        self._hub = _Hub(self.url)

    async def close(self) -> None:
        self._closed = True
        hub, self._hub = self._hub, None
        client, self._redis = self._redis, None
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

    # ------------------------------------------------------------------ waiting

    async def _read_list(self, kind: str, request_id: str, since: int) -> list[bytes]:
        async with (await self._r()).pipeline(transaction=True) as pipe:
            pipe.hget(self._k("req", request_id), "_v")
            pipe.lrange(self._k(kind, request_id), max(since, 0), -1)
            version, rows = await pipe.execute()
        self._saw(request_id, int(version or 0))
        return [bytes(row) for row in rows]

    def _saw(self, request_id: str, version: int) -> None:
        _saw((self._token, request_id), version)

    def _saw_work(self, version: int) -> None:
        _saw((self._token, None), version)

    async def _wait_change(self, request_id: str, timeout: float) -> bool:
        version = _take_seen((self._token, request_id))
        r = await self._r()
        key = self._k("req", request_id)

        async def current() -> int:
            return int(await r.hget(key, "_v") or 0)

        assert self._hub is not None
        return await self._hub.wait(
            self._k("changed", request_id).encode(), version, current, timeout
        )

    async def _wait_work(self, timeout: float, key: str | None) -> None:
        version = _take_seen((self._token, None))
        r = await self._r()
        counter = self._k("workver")

        async def current() -> int:
            return int(await r.get(counter) or 0)

        assert self._hub is not None
        channel = self._k("work", key) if key is not None else self._k("work")
        await self._hub.wait(channel.encode(), version, current, timeout)


    def _expect_done(self, request_id: str) -> None:
        """Not here: another worker may complete it; ``wait_done`` waits for changes."""

    def _notify(self, request_id: str) -> None:
        super()._notify(request_id)
        if self._hub is not None:
            self._hub.force(self._k("changed", request_id).encode())

    def _notify_work(self, app_id: str | None = None) -> None:
        super()._notify_work(app_id)
        if self._hub is not None:
            self._hub.force(self._k("work").encode())
            if app_id is not None:
                self._hub.force(self._k("work", app_id).encode())

    # ------------------------------------------------------------------ requests

    async def _insert(self, rec: RequestRecord) -> RequestRecord:
        if not -_MAX_PRIORITY < rec.priority < _MAX_PRIORITY:
            raise ValueError(f"priority {rec.priority} out of range")
        await self._r()
        row = record_to_row(rec)
        del row["seq"]
        args: list[bytes | str | int] = []
        for name, value in row.items():
            if value is not None:
                args += [name, _wire(name, value)]
        seq = await self._insert_script(args=[self.prefix, rec.id, len(args) // 2, *args])
        if seq is None:
            raise ValueError(f"request {rec.id!r} already exists")
        # as stored: JSON fields round-trip through their encoding
        return row_to_record({**record_to_row(rec), "seq": int(seq)})

    async def _get(self, request_id: str) -> RequestRecord | None:
        # remembers the version read: a wait that follows returns at once if it moved on
        raw = cast(dict[bytes, bytes], await (await self._r()).hgetall(self._k("req", request_id)))
        if not raw:
            self._saw(request_id, 0)
            return None
        rec, version = _unwire(raw)
        self._saw(request_id, version)
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
        result = await self._update_script(
            args=[
                self.prefix,
                request_id,
                int(quiet),
                int(worker_id is not None),
                worker_id or "",
                # inf is not a Lua numeral: any real lease is below 1e300
                repr(min(float(lease_before), 1e300)) if lease_before is not None else "",
                len(statuses),
                *statuses,
                *_changes_args(changes),
            ]
        )
        return _unwire(_pairs(result))[0] if result else None

    async def _pop_next(self, app_ids: list[str], changes: dict[str, Any]) -> RequestRecord | None:
        await self._r()
        apps = list(dict.fromkeys(app_ids))
        result = await self._pop_script(
            args=[self.prefix, len(apps), *apps, *_changes_args(changes)]
        )
        if isinstance(result, int):
            self._saw_work(result)
            return None
        return _unwire(_pairs(result))[0]

    async def _queue_rank(self, rec: RequestRecord) -> int:
        score = int(rec.priority) * _SHIFT + rec.seq
        r = await self._r()
        return int(await r.zcount(self._k("queue", rec.app_id), "-inf", f"({score}"))

    async def _count(self, app_id: str, status: RequestStatus) -> int:
        r = await self._r()
        status = RequestStatus(status)
        if status is RequestStatus.IN_QUEUE:
            async with r.pipeline(transaction=True) as pipe:
                pipe.zcard(self._k("queue", app_id))
                pipe.get(self._k("workver"))
                depth, version = await pipe.execute()
            self._saw_work(int(version or 0))
            return int(depth)
        kind = "running" if status is RequestStatus.IN_PROGRESS else "done"
        return int(await r.scard(self._k(kind, app_id)))

    async def _expired_leases(self, t: float) -> list[RequestRecord]:
        r = await self._r()
        ids = cast(list[bytes], await r.zrangebyscore(self._k("leases"), "-inf", f"({float(t)!r}"))
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
        if app_id is not None:
            key = self._k("created", "app", app_id)
        elif owner is not None:
            key = self._k("created", "owner", owner)
        else:
            key = self._k("created")
        filtered = status is not None or (owner is not None and app_id is not None)
        want_status = RequestStatus(status).value.encode() if status is not None else None
        want_owner = owner.encode() if owner is not None else None

        found: list[bytes] = []
        start, batch = 0, max(limit, 100)
        while len(found) < limit and start < self.list_scan_limit:
            stop = min(start + batch, self.list_scan_limit) - 1
            members = cast(list[bytes], await r.zrevrange(key, start, stop))
            if not members:
                break
            ids = [m.split(b":", 1)[1] for m in members]
            if filtered:
                async with r.pipeline(transaction=False) as pipe:
                    for request_id in ids:
                        pipe.hmget(self._k("req", request_id.decode()), ["status", "owner"])
                    rows = await pipe.execute()
                ids = [
                    request_id
                    for request_id, (st, ow) in zip(ids, rows, strict=True)
                    if st is not None
                    and (want_status is None or st == want_status)
                    and (want_owner is None or ow == want_owner)
                ]
            found += ids
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
        total = 0
        while True:
            gone: list[bytes] = await self._purge_script(
                args=[self.prefix, f"({float(t)!r}", _PURGE_BATCH]
            )
            for request_id in gone:
                self._changed.pop(request_id.decode(), None)
            total += len(gone)
            if len(gone) < _PURGE_BATCH:
                return total

    # ------------------------------------------------------------------ logs and events

    async def _append_logs(self, request_id: str, entries: list[LogEntry]) -> None:
        await self._r()
        items = [json.dumps(e.to_json()) for e in entries]
        await self._append_script(args=[self.prefix, request_id, "logs", *items])

    async def _get_logs(self, request_id: str, since: int) -> list[LogEntry]:
        rows = await self._read_list("logs", request_id, since)
        return [LogEntry(**json.loads(row)) for row in rows]

    async def _append_event(self, request_id: str, data: bytes) -> None:
        await self._r()
        await self._append_script(args=[self.prefix, request_id, "events", bytes(data)])

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
