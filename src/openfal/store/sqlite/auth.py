"""Keys, rate buckets, concurrency slots and file owners in the SQLite store.

Every check-and-take runs in one ``BEGIN IMMEDIATE`` transaction, so processes sharing
the file (a CLI command, several gateways on one host) cannot interleave.
"""

from __future__ import annotations

import abc
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from openfal.store.auth import AuthStore, KeyRecord, key_to_row, row_to_key, token_bucket
from openfal.store.sqlite.transaction import transaction

_T = TypeVar("_T")

AUTH_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS api_keys (id TEXT PRIMARY KEY, user TEXT NOT NULL,"
    " scope TEXT NOT NULL, secret_hash TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',"
    " created_at REAL NOT NULL, revoked_at REAL, rate_limit INTEGER, max_concurrent INTEGER)",
    "CREATE TABLE IF NOT EXISTS rate_buckets (bucket TEXT PRIMARY KEY, tokens REAL NOT NULL,"
    " updated REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS request_slots (user TEXT NOT NULL, request_id TEXT NOT NULL,"
    " taken_at REAL NOT NULL, PRIMARY KEY (user, request_id)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS file_owners (file_key TEXT PRIMARY KEY, owner TEXT NOT NULL,"
    " created_at REAL NOT NULL)",
]

# Looks up only this user's slots (by the requests' unique id index), never scans requests.
_PRUNE_SLOTS = (
    "DELETE FROM request_slots WHERE user = ? AND request_id IN ("
    " SELECT s.request_id FROM request_slots s LEFT JOIN requests r ON r.id = s.request_id"
    " WHERE s.user = ? AND (r.status = 'COMPLETED' OR (r.id IS NULL AND s.taken_at < ?)))"
)


class SQLiteAuth(AuthStore):
    @abc.abstractmethod
    async def _run(self, fn: Callable[[sqlite3.Connection], _T]) -> _T: ...

    async def _transact(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        return await self._run(lambda conn: transaction(conn, fn))

    async def _put_key(self, key: KeyRecord) -> None:
        row = key_to_row(key)
        sql = f"INSERT INTO api_keys ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})"
        await self._run(lambda conn: conn.execute(sql, list(row.values())))

    async def _get_key(self, key_id: str) -> KeyRecord | None:
        row = await self._run(
            lambda conn: conn.execute("SELECT * FROM api_keys WHERE id = ?", (key_id,)).fetchone()
        )
        return row_to_key(dict(row)) if row is not None else None

    async def _list_keys(self) -> list[KeyRecord]:
        rows = await self._run(lambda conn: conn.execute("SELECT * FROM api_keys").fetchall())
        return [row_to_key(dict(row)) for row in rows]

    async def _revoke_key(self, key_id: str, t: float) -> bool:
        sql = "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"
        return await self._run(lambda conn: conn.execute(sql, (t, key_id)).rowcount > 0)

    async def _any_key(self) -> bool:
        return await self._run(
            lambda conn: conn.execute("SELECT 1 FROM api_keys LIMIT 1").fetchone() is not None
        )

    async def _take_token(self, bucket: str, limit: int, window: float, t: float) -> float:
        def tx(conn: sqlite3.Connection) -> float:
            row = conn.execute(
                "SELECT tokens, updated FROM rate_buckets WHERE bucket = ?", (bucket,)
            ).fetchone()
            tokens, updated, wait = token_bucket(
                row[0] if row else None, row[1] if row else None, limit, window, t
            )
            conn.execute(
                "INSERT OR REPLACE INTO rate_buckets (bucket, tokens, updated) VALUES (?, ?, ?)",
                (bucket, tokens, updated),
            )
            return wait

        return await self._transact(tx)

    async def _acquire_slot(
        self, user: str, request_id: str, limit: int, t: float, grace: float
    ) -> bool:
        def tx(conn: sqlite3.Connection) -> bool:
            conn.execute(_PRUNE_SLOTS, (user, user, t - grace))
            held = conn.execute(
                "SELECT 1 FROM request_slots WHERE user = ? AND request_id = ?", (user, request_id)
            ).fetchone()
            if held is not None:
                return True
            count = conn.execute(
                "SELECT COUNT(*) FROM request_slots WHERE user = ?", (user,)
            ).fetchone()[0]
            if count >= limit:
                return False
            conn.execute(
                "INSERT INTO request_slots (user, request_id, taken_at) VALUES (?, ?, ?)",
                (user, request_id, t),
            )
            return True

        return await self._transact(tx)

    async def _release_slot(self, user: str, request_id: str) -> None:
        sql = "DELETE FROM request_slots WHERE user = ? AND request_id = ?"
        await self._run(lambda conn: conn.execute(sql, (user, request_id)))

    async def _slots(self, user: str) -> list[str]:
        sql = "SELECT request_id FROM request_slots WHERE user = ? ORDER BY taken_at"
        return await self._run(lambda conn: [r[0] for r in conn.execute(sql, (user,))])

    async def _put_file_owner(self, file_key: str, owner: str, t: float) -> None:
        sql = "INSERT OR REPLACE INTO file_owners (file_key, owner, created_at) VALUES (?, ?, ?)"
        await self._run(lambda conn: conn.execute(sql, (file_key, owner, t)))

    async def _get_file_owner(self, file_key: str) -> str | None:
        sql = "SELECT owner FROM file_owners WHERE file_key = ?"
        row: Any = await self._run(lambda conn: conn.execute(sql, (file_key,)).fetchone())
        return str(row[0]) if row is not None else None
