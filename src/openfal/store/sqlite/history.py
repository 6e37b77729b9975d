"""Request history for the SQLite store: a keyset walk down a ``(created_at, seq)`` index.

``requests_owner`` (owner, created_at, seq) serves a user's pages, ``requests_app_created``
(app_id, created_at, seq) an app's and ``requests_created`` everyone's, so each page reads
about ``limit`` rows (plus those a status filter skips).
"""

from __future__ import annotations

import abc
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from openfal.store.history import HistoryQuery, HistoryStore
from openfal.store.requests import RequestRecord, RequestStatus, row_to_record

_T = TypeVar("_T")

HISTORY_SCHEMA = [
    "CREATE INDEX IF NOT EXISTS requests_app_created ON requests (app_id, created_at, seq)",
]


def history_sql(query: HistoryQuery) -> tuple[str, list[Any]]:
    conditions: list[str] = []
    params: list[Any] = []
    for column, value in (("app_id", query.app_id), ("owner", query.owner)):
        if value is not None:
            conditions.append(f"{column} = ?")
            params.append(value)
    if query.status is not None:
        conditions.append("status = ?")
        params.append(RequestStatus(query.status).value)
    if query.since is not None:
        conditions.append("created_at >= ?")
        params.append(query.since)
    if query.until is not None:
        conditions.append("created_at < ?")
        params.append(query.until)
    if query.before is not None:
        conditions.append("(created_at, seq) < (?, ?)")
        params += [query.before[0], query.before[1]]
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    params.append(query.limit)
    return f"SELECT * FROM requests {where} ORDER BY created_at DESC, seq DESC LIMIT ?", params


class SQLiteHistory(HistoryStore):
    @abc.abstractmethod
    async def _run(self, fn: Callable[[sqlite3.Connection], _T]) -> _T: ...

    async def _history(self, query: HistoryQuery) -> list[RequestRecord]:
        sql, params = history_sql(query)
        return await self._run(
            lambda conn: [row_to_record(dict(r)) for r in conn.execute(sql, params)]
        )
