"""The webhook outbox in the SQLite store: one row per webhook, claims in one transaction."""

from __future__ import annotations

import abc
import json
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from openfal.store.outbox import OutboxStore, WebhookDelivery, WebhookState
from openfal.store.sqlite.transaction import transaction

_T = TypeVar("_T")

OUTBOX_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS webhooks (request_id TEXT PRIMARY KEY, url TEXT NOT NULL,"
    " user TEXT, state TEXT NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL,"
    " next_at REAL, lease_owner TEXT, body BLOB, attempts TEXT NOT NULL DEFAULT '[]',"
    " error TEXT)",
    "CREATE INDEX IF NOT EXISTS webhooks_due ON webhooks (state, next_at)",
    "CREATE INDEX IF NOT EXISTS webhooks_changed ON webhooks (state, updated_at)",
]


def _encode(name: str, value: Any) -> Any:
    if name == "state":
        return WebhookState(value).value
    if name == "attempts":
        return json.dumps(list(value))
    if name == "body" and value is not None:
        return bytes(value)
    return value


def _delivery(row: sqlite3.Row | None) -> WebhookDelivery | None:
    if row is None:
        return None
    data = dict(row)
    return WebhookDelivery(
        request_id=data["request_id"],
        url=data["url"],
        user=data["user"],
        state=WebhookState(data["state"]),
        created_at=data["created_at"],
        updated_at=data["updated_at"],
        next_at=data["next_at"],
        lease_owner=data["lease_owner"],
        body=bytes(data["body"]) if data["body"] is not None else None,
        attempts=tuple(json.loads(data["attempts"])),
        error=data["error"],
    )


def _select(conn: sqlite3.Connection, request_id: str) -> WebhookDelivery | None:
    return _delivery(
        conn.execute("SELECT * FROM webhooks WHERE request_id = ?", (request_id,)).fetchone()
    )


class SQLiteOutbox(OutboxStore):
    @abc.abstractmethod
    async def _run(self, fn: Callable[[sqlite3.Connection], _T]) -> _T: ...

    async def _put_webhook(self, delivery: WebhookDelivery) -> bool:
        names = list(WebhookDelivery.__dataclass_fields__)
        values = [_encode(name, getattr(delivery, name)) for name in names]
        sql = (
            f"INSERT OR IGNORE INTO webhooks ({', '.join(names)})"
            f" VALUES ({', '.join('?' * len(names))})"
        )
        return await self._run(lambda conn: conn.execute(sql, values).rowcount > 0)

    async def _get_webhook(self, request_id: str) -> WebhookDelivery | None:
        return await self._run(lambda conn: _select(conn, request_id))

    async def _delete_webhook(self, request_id: str) -> None:
        sql = "DELETE FROM webhooks WHERE request_id = ?"
        await self._run(lambda conn: conn.execute(sql, (request_id,)))

    async def _update_webhook(
        self,
        request_id: str,
        expect: WebhookState,
        changes: dict[str, Any],
        *,
        lease_owner: str | None = None,
    ) -> WebhookDelivery | None:
        assignments = ", ".join(f"{name} = ?" for name in changes)
        values = [_encode(name, value) for name, value in changes.items()]
        where = "request_id = ? AND state = ?"
        params: list[Any] = [request_id, WebhookState(expect).value]
        if lease_owner is not None:
            where += " AND lease_owner = ?"
            params.append(lease_owner)

        def tx(conn: sqlite3.Connection) -> WebhookDelivery | None:
            cur = conn.execute(f"UPDATE webhooks SET {assignments} WHERE {where}", values + params)
            return _select(conn, request_id) if cur.rowcount else None

        return await self._run(lambda conn: transaction(conn, tx))

    async def _claim_webhooks(
        self, sender: str, t: float, lease_ttl: float, limit: int
    ) -> list[WebhookDelivery]:
        due_sql = (
            "SELECT request_id FROM webhooks WHERE state = 'PENDING' AND next_at <= ?"
            " ORDER BY next_at, created_at LIMIT ?"
        )

        def tx(conn: sqlite3.Connection) -> list[WebhookDelivery]:
            ids = [row[0] for row in conn.execute(due_sql, (t, max(limit, 0)))]
            claimed = []
            for request_id in ids:
                conn.execute(
                    "UPDATE webhooks SET lease_owner = ?, next_at = ? WHERE request_id = ?",
                    (sender, t + lease_ttl, request_id),
                )
                found = _select(conn, request_id)
                if found is not None:
                    claimed.append(found)
            return claimed

        def op(conn: sqlite3.Connection) -> list[WebhookDelivery]:
            # look without the write lock first: nothing due costs no lock
            if conn.execute(due_sql, (t, 1)).fetchone() is None:
                return []
            return transaction(conn, tx)

        return await self._run(op)

    async def _list_webhooks(self, state: WebhookState, limit: int) -> list[WebhookDelivery]:
        sql = "SELECT * FROM webhooks WHERE state = ? ORDER BY created_at LIMIT ?"
        args = (WebhookState(state).value, max(limit, 0))
        rows = await self._run(lambda conn: conn.execute(sql, args).fetchall())
        return [d for d in map(_delivery, rows) if d is not None]

    async def _release_webhook_leases(self, t: float) -> int:
        sql = (
            "UPDATE webhooks SET lease_owner = NULL, next_at = ?"
            " WHERE state = 'PENDING' AND lease_owner IS NOT NULL"
        )
        return await self._run(lambda conn: conn.execute(sql, (t,)).rowcount)

    async def _delete_webhooks_before(self, t: float) -> int:
        sql = "DELETE FROM webhooks WHERE state IN ('DELIVERED', 'FAILED') AND updated_at < ?"
        return await self._run(lambda conn: conn.execute(sql, (t,)).rowcount)
