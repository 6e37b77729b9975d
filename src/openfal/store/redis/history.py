"""Request history for the Redis store: a walk down the ``created`` sorted sets.

``created``, ``created:app:{app_id}`` and ``created:owner:{owner}`` hold
``"{seq:013d}:{id}"`` scored by ``created_at``, so equal scores sort by seq and a page is
one ``ZRANGE … BYSCORE REV`` from the cursor's score down. Filters the chosen set does
not cover (status; app and owner together) are checked on the hashes, one pipelined
``HMGET`` per batch.
"""

from __future__ import annotations

import abc
from typing import Any, cast

import redis.asyncio as aioredis

from openfal.store.history import Cursor, HistoryQuery, HistoryStore
from openfal.store.requests import RequestRecord, RequestStatus

_Entry = tuple[float, int, bytes]  # (created_at, seq, id)


def _upper(query: HistoryQuery) -> str:
    """The highest score a page may hold (``(`` marks an exclusive bound)."""
    if query.before is not None and (query.until is None or query.before[0] < query.until):
        return repr(query.before[0])
    if query.until is not None:
        return f"({query.until!r}"
    return "+inf"


def _entry(member: bytes, score: float) -> _Entry:
    seq, _, request_id = member.partition(b":")
    return (score, int(seq), request_id)


def _in_range(entry: _Entry, before: Cursor | None, until: float | None) -> bool:
    return (before is None or entry[:2] < before) and (until is None or entry[0] < until)


class RedisHistory(HistoryStore):
    @abc.abstractmethod
    async def _r(self) -> aioredis.Redis: ...

    @abc.abstractmethod
    def _k(self, *parts: str) -> str: ...

    @abc.abstractmethod
    async def _fetch(self, ids: list[bytes]) -> list[RequestRecord]: ...

    def _history_key(self, query: HistoryQuery) -> str:
        if query.app_id is not None:
            return self._k("created", "app", query.app_id)
        if query.owner is not None:
            return self._k("created", "owner", query.owner)
        return self._k("created")

    async def _history(self, query: HistoryQuery) -> list[RequestRecord]:
        key, upper = self._history_key(query), _upper(query)
        lower = repr(query.since) if query.since is not None else "-inf"
        found: list[bytes] = []
        offset, batch = 0, max(query.limit, 64)
        while len(found) < query.limit:
            rows = await self._scores(key, upper, lower, offset, batch)
            entries = [_entry(m, s) for m, s in rows]
            ids = [e[2] for e in entries if _in_range(e, query.before, query.until)]
            found += await self._matching(query, ids)
            if len(rows) < batch:
                break
            offset += batch
        records = await self._fetch(found[: query.limit])
        return [rec for rec in records if query.admits(rec)]  # it may have moved on since

    async def _scores(
        self, key: str, upper: str, lower: str, offset: int, num: int
    ) -> list[tuple[bytes, float]]:
        r = await self._r()
        rows = await r.zrange(
            key, upper, lower, desc=True, byscore=True, offset=offset, num=num, withscores=True
        )
        return cast(list[tuple[bytes, float]], rows)

    async def _matching(self, query: HistoryQuery, ids: list[bytes]) -> list[bytes]:
        """The ids whose status and owner match where the listing set does not say."""
        want_owner = query.owner if query.app_id is not None else None
        if not ids or (query.status is None and want_owner is None):
            return ids
        async with (await self._r()).pipeline(transaction=False) as pipe:
            for request_id in ids:
                pipe.hmget(self._k("req", request_id.decode()), ["status", "owner"])
            rows: list[Any] = await pipe.execute()
        status = RequestStatus(query.status).value.encode() if query.status is not None else None
        owner = want_owner.encode() if want_owner is not None else None
        return [
            request_id
            for request_id, (st, ow) in zip(ids, rows, strict=True)
            if st is not None
            and (status is None or st == status)
            and (owner is None or ow == owner)
        ]
