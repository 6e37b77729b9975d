"""Request history for the Redis store: a walk down the ``created`` sorted set.

``created`` holds ``"{seq:013d}:{id}"`` scored by ``created_at``, so equal scores sort by
seq and a page is one ``ZRANGE … BYSCORE REV`` from the cursor's score down. It is the
one listing index a request writes (one command per request): filters (app, owner,
status) are checked on the hashes, one pipelined ``HMGET`` per batch.
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

    async def _history(self, query: HistoryQuery) -> list[RequestRecord]:
        key, upper = self._k("created"), _upper(query)
        lower = repr(query.since) if query.since is not None else "-inf"
        found: list[bytes] = []
        offset, batch = 0, max(query.limit, 64)
        while len(found) < query.limit:
            rows = await self._scores(key, upper, lower, offset, batch)
            entries = [_entry(m, s) for m, s in rows]
            ids = [e[2] for e in entries if _in_range(e, query.before, query.until)]
            found += await self._filter_ids(ids, query.app_id, query.status, query.owner)
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

    async def _filter_ids(
        self,
        ids: list[bytes],
        app_id: str | None,
        status: RequestStatus | None,
        owner: str | None,
    ) -> list[bytes]:
        """The ids whose app, status and owner match (None: any), in order."""
        if not ids or (app_id is None and status is None and owner is None):
            return ids
        async with (await self._r()).pipeline(transaction=False) as pipe:
            for request_id in ids:
                pipe.hmget(self._k("req", request_id.decode()), ["status", "owner", "app_id"])
            rows: list[Any] = await pipe.execute()
        want_status = RequestStatus(status).value.encode() if status is not None else None
        want_owner = owner.encode() if owner is not None else None
        want_app = app_id.encode() if app_id is not None else None
        return [
            request_id
            for request_id, (st, ow, app) in zip(ids, rows, strict=True)
            if st is not None
            and (want_status is None or st == want_status)
            and (want_owner is None or ow == want_owner)
            and (want_app is None or app == want_app)
        ]
