"""Deployments, revisions, secrets and line logs in the SQLite store.

Tables are created on first use, so files made by older versions gain them too.
"""

from __future__ import annotations

import abc
import json
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from openfal.store.deploy import DeployStore, encode
from openfal.store.sqlite.transaction import transaction as _write

_T = TypeVar("_T")

DEPLOY_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS deploy_docs (kind TEXT NOT NULL, key TEXT NOT NULL,"
    " data TEXT NOT NULL, PRIMARY KEY (kind, key)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS deploy_blobs (key TEXT PRIMARY KEY, data BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS deploy_lines (log TEXT NOT NULL, idx INTEGER NOT NULL,"
    " line TEXT NOT NULL, PRIMARY KEY (log, idx)) WITHOUT ROWID",
]


class SQLiteDeploy(DeployStore):
    _deploy_schema_ready = False

    @abc.abstractmethod
    async def _run(self, fn: Callable[[sqlite3.Connection], _T]) -> _T: ...

    async def _deploy_tx(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        if not self._deploy_schema_ready:
            await self._run(lambda conn: _write(conn, _create_schema))
            self._deploy_schema_ready = True
        return await self._run(lambda conn: _write(conn, fn))

    async def _deploy_read(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        if not self._deploy_schema_ready:
            return await self._deploy_tx(fn)
        return await self._run(fn)

    async def _doc_get(self, kind: str, key: str) -> dict[str, Any] | None:
        sql = "SELECT data FROM deploy_docs WHERE kind = ? AND key = ?"
        row = await self._deploy_read(lambda conn: conn.execute(sql, (kind, key)).fetchone())
        return None if row is None else _load(row[0])

    async def _doc_items(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        sql = "SELECT key, data FROM deploy_docs WHERE kind = ?"
        rows = await self._deploy_read(lambda conn: conn.execute(sql, (kind,)).fetchall())
        return [(str(row[0]), _load(row[1])) for row in rows]

    async def _doc_swap(
        self, kind: str, key: str, expect: dict[str, Any] | None, new: dict[str, Any]
    ) -> bool:
        old = encode(expect)

        def tx(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT data FROM deploy_docs WHERE kind = ? AND key = ?", (kind, key)
            ).fetchone()
            if (row[0] if row is not None else None) != old:
                return False
            conn.execute(
                "INSERT OR REPLACE INTO deploy_docs (kind, key, data) VALUES (?, ?, ?)",
                (kind, key, encode(new)),
            )
            return True

        return await self._deploy_tx(tx)

    async def _doc_delete(self, kind: str, key: str) -> bool:
        sql = "DELETE FROM deploy_docs WHERE kind = ? AND key = ?"
        return await self._deploy_tx(lambda conn: conn.execute(sql, (kind, key)).rowcount > 0)

    async def _blob_put(self, key: str, data: bytes) -> None:
        sql = "INSERT OR REPLACE INTO deploy_blobs (key, data) VALUES (?, ?)"
        await self._deploy_tx(lambda conn: conn.execute(sql, (key, data)))

    async def _blob_get(self, key: str) -> bytes | None:
        sql = "SELECT data FROM deploy_blobs WHERE key = ?"
        row = await self._deploy_read(lambda conn: conn.execute(sql, (key,)).fetchone())
        return None if row is None else bytes(row[0])

    async def _blob_delete(self, key: str) -> None:
        sql = "DELETE FROM deploy_blobs WHERE key = ?"
        await self._deploy_tx(lambda conn: conn.execute(sql, (key,)))

    async def _log_append(self, log: str, lines: list[str], limit: int) -> None:
        def tx(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT MAX(idx) FROM deploy_lines WHERE log = ?", (log,)).fetchone()
            start = 0 if row[0] is None else row[0] + 1
            conn.executemany(
                "INSERT INTO deploy_lines (log, idx, line) VALUES (?, ?, ?)",
                [(log, start + i, line) for i, line in enumerate(lines)],
            )
            conn.execute(
                "DELETE FROM deploy_lines WHERE log = ? AND idx < ?",
                (log, start + len(lines) - limit),
            )

        await self._deploy_tx(tx)

    async def _log_get(self, log: str, since: int) -> list[str]:
        sql = "SELECT line FROM deploy_lines WHERE log = ? AND idx >= ? ORDER BY idx"
        rows = await self._deploy_read(lambda conn: conn.execute(sql, (log, since)).fetchall())
        return [str(row[0]) for row in rows]

    async def _log_delete(self, log: str) -> None:
        sql = "DELETE FROM deploy_lines WHERE log = ?"
        await self._deploy_tx(lambda conn: conn.execute(sql, (log,)))


def _create_schema(conn: sqlite3.Connection) -> None:
    for statement in DEPLOY_SCHEMA:
        conn.execute(statement)


def _load(raw: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(raw)
    return data
