"""Waiting on Redis: one pub/sub connection per store whose channels stay subscribed, and
the versions a task has read (so a change between a read and a wait is not missed).
See "waiting" in :mod:`openfal.store.redis.store`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import weakref
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.connection import Connection
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

log = logging.getLogger("openfal.store.redis.store")


class _Seen:
    """Versions a task has read and not yet waited on: {(store, request id or None for
    work): version}. Kept oldest first per key, and bounded."""

    LIMIT = 64

    def __init__(self, task: asyncio.Task[Any] | None) -> None:
        self.task = weakref.ref(task) if task is not None else None
        self.versions: dict[tuple[object, str | None], Any] = {}


# The holder of the current task. Tasks started by it (asyncio.wait_for in 3.11 runs
# the wait in one) inherit it, so a wait there consumes the version its parent read;
# a task that reads makes its own, so sibling readers never share one.
_SEEN: ContextVar[_Seen | None] = ContextVar("openfal_redis_seen", default=None)


def _saw(key: tuple[object, str | None], version: Any) -> None:
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


def _take_seen(key: tuple[object, str | None]) -> Any:
    """The version remembered for ``key``, forgotten now: a wait consumes it."""
    seen = _SEEN.get()
    return seen.versions.pop(key, None) if seen is not None else None


@dataclass(eq=False)
class _Channel:
    """A pub/sub channel, or (``name`` None) the waiters of one request's changes."""

    name: bytes | None
    waiters: int = 0
    inflight: bool = False  # a SUBSCRIBE awaits the server's reply
    subscribed: bool = False  # the server's state, as of the last reply
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
    """One pub/sub connection, a reader task, and channels subscribed for good.

    A channel is subscribed once, by the first wait that needs it, and stays so until
    the store closes (``proc:{token}``, and the ``work`` channels of this process's
    claimers: a handful). At most one SUBSCRIBE per channel is in flight: the server's
    reply says where the channel stands. ``epoch`` counts the connection's breaks:
    messages may have been lost across one. ``on_message(channel, data)`` sees every
    message; ``on_reset()`` every break.

    The connection comes from a client of its own whose commands never retry, and every
    send or (re)connect happens under ``_lock``: only one task at a time ever connects
    it. After a failure the reader reconnects; redis-py then re-subscribes the channels
    it knows and :meth:`_on_reconnect` records that, leaving the rest to the next holder
    of the lock (:meth:`_resync`).
    """

    def __init__(
        self,
        url: str,
        on_message: Callable[[bytes, bytes], None],
        on_reset: Callable[[], None],
    ) -> None:
        self._url = url
        self._on_message = on_message
        self._on_reset = on_reset
        self._client: aioredis.Redis | None = None
        self._pubsub: Any = None  # redis.asyncio.client.PubSub (unannotated)
        self._reader: asyncio.Task[None] | None = None
        self._channels: dict[bytes, _Channel] = {}
        self._lock = asyncio.Lock()
        self._dirty = False  # reconnected: channels need _resync
        self._closed = False
        self.epoch = 0

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

    # -- channels

    def channel(self, name: bytes) -> _Channel | None:
        """``name`` once subscribed and confirmed, else None."""
        ch = self._channels.get(name)
        return ch if ch is not None and ch.ready else None

    def wake_all(self, prefix: bytes) -> None:
        """Wake the waiters of every channel whose name starts with ``prefix``."""
        for name, ch in self._channels.items():
            if name.startswith(prefix):
                ch.wake(forced=True)

    async def ensure(self, name: bytes, deadline: float) -> _Channel | None:
        """Subscribe ``name`` for good; the channel once the server confirmed it, or None
        when that did not happen before ``deadline`` (loop time)."""
        ch = self._channels.get(name)
        if ch is not None and ch.ready:
            return ch
        await self._start()
        if ch is None:
            ch = self._channels.setdefault(name, _Channel(name))
        while not ch.ready:
            if self._closed:
                return None
            try:
                await self._sync(ch)
            except Exception:  # the connection broke: the reader reconnects and wakes us
                log.debug("subscribing %r failed", name, exc_info=True)
            if ch.ready:
                break
            if not await _wait_event(ch.waiter_event(), deadline):
                return None
        return ch

    async def _sync(self, ch: _Channel) -> None:
        async with self._lock:
            await self._resync()
            await self._sync_locked(ch)

    async def _resync(self) -> None:
        """After a reconnect: subscribe every channel again (lock held)."""
        while self._dirty and not self._closed:
            self._dirty = False
            for ch in list(self._channels.values()):
                await self._sync_locked(ch)

    async def _sync_locked(self, ch: _Channel) -> None:
        """Subscribe ``ch`` if it is not and nothing is in flight; wake its waiters once
        it is (they go on to check what they missed)."""
        pubsub = self._pubsub
        if ch.inflight or self._closed or pubsub is None:
            return
        if ch.subscribed:
            ch.wake()
            return
        if not pubsub.connection.is_connected:
            return  # the reader reconnects, then _resync
        assert ch.name is not None
        ch.inflight = True
        try:
            await pubsub.subscribe(ch.name)
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
                self._on_message(name, msg["data"])
            except Exception:  # a malformed message: nothing to undo
                log.warning("bad message on %r", name, exc_info=True)
            ch.wake()
        elif kind in ("subscribe", "unsubscribe"):
            ch = self._channels.get(name)
            if ch is None:
                return
            ch.inflight = False
            ch.subscribed = kind == "subscribe"
            await self._sync(ch)

    def _lost(self) -> None:
        """The connection failed: the server forgot our subscriptions; wake every waiter."""
        self.epoch += 1
        for ch in list(self._channels.values()):
            ch.inflight = False
            ch.subscribed = False
            ch.wake(forced=True)
        self._on_reset()

    def _on_reconnect(self, conn: Connection) -> None:
        """Called by redis-py once it re-sent SUBSCRIBE for the channels it knows."""
        pubsub = self._pubsub
        if pubsub is None:
            return
        self.epoch += 1
        for ch in list(self._channels.values()):
            ch.subscribed = False
            ch.inflight = ch.name in pubsub.channels
            ch.wake(forced=True)  # messages may have been missed meanwhile
        self._dirty = True
        self._on_reset()
