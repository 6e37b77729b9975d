"""The runner registry of :class:`~openfal.store.sqlite.SQLiteStore`.

Each decision (acquire, retire) is one ``BEGIN IMMEDIATE`` transaction, so processes
sharing the file cannot both take the last slot. Records are JSON, with the columns
the conditions need beside them.
"""

from __future__ import annotations

import abc
import json
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from openfal.store.runners import (
    RunnerInfo,
    RunnerRegistry,
    SessionCounts,
    SlotState,
    WorkerInfo,
)
from openfal.store.sqlite.transaction import transaction as _write

_T = TypeVar("_T")

RUNNER_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS runners (runner_id TEXT PRIMARY KEY, app_id TEXT NOT NULL,"
    " state TEXT NOT NULL, expires_at REAL NOT NULL, data TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS runners_app ON runners (app_id, expires_at)",
    "CREATE TABLE IF NOT EXISTS workers (worker_id TEXT PRIMARY KEY,"
    " expires_at REAL NOT NULL, data TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, value BLOB NOT NULL)",
    # runner_id NULL: waiting for a runner
    "CREATE TABLE IF NOT EXISTS sessions (session_id TEXT PRIMARY KEY, app_id TEXT NOT NULL,"
    " runner_id TEXT, expires_at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS sessions_app ON sessions (app_id, expires_at)",
]

_ATTACHED = (
    "SELECT runner_id, COUNT(*) FROM sessions WHERE app_id = ? AND runner_id IS NOT NULL"
    " AND expires_at >= ? AND session_id != ? GROUP BY runner_id"
)

_UPSERT = (
    "INSERT OR REPLACE INTO runners (runner_id, app_id, state, expires_at, data)"
    " VALUES (?, ?, ?, ?, ?)"
)
_LIVE_COUNT = "SELECT COUNT(*) FROM runners WHERE app_id = ? AND expires_at >= ?"


def _row(rec: RunnerInfo) -> tuple[str, str, str, float, str]:
    return (rec.runner_id, rec.app_id, rec.state.value, rec.expires_at, json.dumps(rec.to_json()))


class SQLiteRunners(RunnerRegistry):
    @abc.abstractmethod
    async def _run(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``fn(connection)`` on the database thread (SQLiteStore's)."""

    async def _runner_acquire(self, rec: RunnerInfo, limit: int, t: float) -> bool:
        def tx(conn: sqlite3.Connection) -> bool:
            conn.execute("DELETE FROM runners WHERE app_id = ? AND expires_at < ?", (rec.app_id, t))
            taken = conn.execute("SELECT 1 FROM runners WHERE runner_id = ?", (rec.runner_id,))
            if taken.fetchone() is not None:
                return False
            if conn.execute(_LIVE_COUNT, (rec.app_id, t)).fetchone()[0] >= limit:
                return False
            conn.execute(_UPSERT, _row(rec))
            return True

        return await self._run(lambda conn: _write(conn, tx))

    async def _runner_heartbeat(self, runners: list[RunnerInfo], t: float) -> list[str]:
        def tx(conn: sqlite3.Connection) -> list[str]:
            lost = []
            for rec in runners:
                found = conn.execute(
                    "SELECT expires_at, data FROM runners WHERE runner_id = ?", (rec.runner_id,)
                ).fetchone()
                if found is None or found[0] < t:
                    conn.execute("DELETE FROM runners WHERE runner_id = ?", (rec.runner_id,))
                    lost.append(rec.runner_id)
                else:
                    stored = RunnerInfo.from_json(json.loads(found[1]))
                    state = SlotState.STOPPING if stored.state is SlotState.STOPPING else rec.state
                    conn.execute(
                        _UPSERT, _row(replace(rec, started_at=stored.started_at, state=state))
                    )
            return lost

        return await self._run(lambda conn: _write(conn, tx))

    async def _runner_retire(self, runner_id: str, keep: int, t: float) -> bool:
        def tx(conn: sqlite3.Connection) -> bool:
            found = conn.execute(
                "SELECT app_id, state, expires_at, data FROM runners WHERE runner_id = ?",
                (runner_id,),
            ).fetchone()
            if found is None or found[2] < t or found[1] == SlotState.STOPPING.value:
                return False
            active = conn.execute(
                "SELECT COUNT(*) FROM runners WHERE app_id = ? AND expires_at >= ? AND state != ?",
                (found[0], t, SlotState.STOPPING.value),
            ).fetchone()[0]
            if active <= keep:
                return False
            data = json.loads(found[3])
            data["state"] = SlotState.STOPPING.value
            conn.execute(
                "UPDATE runners SET state = ?, data = ? WHERE runner_id = ?",
                (SlotState.STOPPING.value, json.dumps(data), runner_id),
            )
            return True

        return await self._run(lambda conn: _write(conn, tx))

    async def _runner_delete(self, runner_id: str) -> None:
        await self._run(
            lambda conn: conn.execute("DELETE FROM runners WHERE runner_id = ?", (runner_id,))
        )

    async def _runner_list(self, app_id: str | None, t: float) -> list[RunnerInfo]:
        params: list[float | str]
        sql, params = "SELECT data FROM runners WHERE expires_at >= ?", [t]
        if app_id is not None:
            sql, params = sql + " AND app_id = ?", [t, app_id]
        rows = await self._run(lambda conn: conn.execute(sql, params).fetchall())
        return [RunnerInfo.from_json(json.loads(row[0])) for row in rows]

    async def _session_open(
        self, app_id: str, session_id: str, t: float, expires: float
    ) -> RunnerInfo | None:
        def tx(conn: sqlite3.Connection) -> RunnerInfo | None:
            conn.execute("DELETE FROM sessions WHERE app_id = ? AND expires_at < ?", (app_id, t))
            live = {
                r.runner_id: r
                for r in (
                    RunnerInfo.from_json(json.loads(row[0]))
                    for row in conn.execute(
                        "SELECT data FROM runners WHERE app_id = ? AND expires_at >= ?", (app_id, t)
                    )
                )
            }
            row = conn.execute(
                "SELECT runner_id FROM sessions WHERE session_id = ?", (session_id,)
            ).fetchone()
            chosen = live.get(row[0]) if row is not None and row[0] else None
            if chosen is None:
                load = dict(conn.execute(_ATTACHED, (app_id, t, session_id)).fetchall())
                free = [
                    r
                    for r in live.values()
                    if r.state is SlotState.READY
                    and r.in_flight + load.get(r.runner_id, 0) < r.max_multiplexing
                ]
                if free:
                    chosen = min(
                        free, key=lambda r: (r.in_flight + load.get(r.runner_id, 0), r.started_at)
                    )
            conn.execute(
                "INSERT OR REPLACE INTO sessions (session_id, app_id, runner_id, expires_at)"
                " VALUES (?, ?, ?, ?)",
                (session_id, app_id, chosen.runner_id if chosen else None, expires),
            )
            return chosen

        return await self._run(lambda conn: _write(conn, tx))

    async def _session_renew(self, session_id: str, t: float, expires: float) -> bool:
        def tx(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT s.expires_at, r.expires_at FROM sessions s"
                " LEFT JOIN runners r ON r.runner_id = s.runner_id WHERE s.session_id = ?",
                (session_id,),
            ).fetchone()
            if row is None or row[0] < t or row[1] is None or row[1] < t:
                conn.execute("DELETE FROM sessions WHERE session_id = ?", (session_id,))
                return False
            conn.execute(
                "UPDATE sessions SET expires_at = ? WHERE session_id = ?", (expires, session_id)
            )
            return True

        return await self._run(lambda conn: _write(conn, tx))

    async def _session_close(self, session_id: str) -> None:
        await self._run(
            lambda conn: conn.execute("DELETE FROM sessions WHERE session_id = ?", (session_id,))
        )

    async def _session_counts(self, app_id: str, t: float) -> SessionCounts:
        def op(conn: sqlite3.Connection) -> SessionCounts:
            waiting = conn.execute(
                "SELECT COUNT(*) FROM sessions WHERE app_id = ? AND runner_id IS NULL"
                " AND expires_at >= ?",
                (app_id, t),
            ).fetchone()[0]
            attached = conn.execute(
                "SELECT s.runner_id, COUNT(*) FROM sessions s JOIN runners r"
                " ON r.runner_id = s.runner_id WHERE s.app_id = ? AND s.expires_at >= ?"
                " AND r.expires_at >= ? GROUP BY s.runner_id",
                (app_id, t, t),
            ).fetchall()
            return SessionCounts(int(waiting), {str(k): int(v) for k, v in attached})

        return await self._run(op)

    async def _worker_put(self, info: WorkerInfo) -> None:
        values = (info.worker_id, info.expires_at, json.dumps(info.to_json()))
        await self._run(
            lambda conn: conn.execute(
                "INSERT OR REPLACE INTO workers (worker_id, expires_at, data) VALUES (?, ?, ?)",
                values,
            )
        )

    async def _worker_delete(self, worker_id: str) -> None:
        await self._run(
            lambda conn: conn.execute("DELETE FROM workers WHERE worker_id = ?", (worker_id,))
        )

    async def _worker_list(self, t: float) -> list[WorkerInfo]:
        rows = await self._run(
            lambda conn: conn.execute(
                "SELECT data FROM workers WHERE expires_at >= ?", (t,)
            ).fetchall()
        )
        return [WorkerInfo.from_json(json.loads(row[0])) for row in rows]

    async def _registry_purge(self, t: float) -> int:
        def tx(conn: sqlite3.Connection) -> int:
            conn.execute("DELETE FROM workers WHERE expires_at < ?", (t,))
            conn.execute("DELETE FROM sessions WHERE expires_at < ?", (t,))
            return conn.execute("DELETE FROM runners WHERE expires_at < ?", (t,)).rowcount

        return await self._run(lambda conn: _write(conn, tx))

    async def _secret_get_or_create(self, name: str, candidate: bytes) -> bytes:
        def tx(conn: sqlite3.Connection) -> bytes:
            conn.execute(
                "INSERT OR IGNORE INTO secrets (name, value) VALUES (?, ?)", (name, candidate)
            )
            return bytes(
                conn.execute("SELECT value FROM secrets WHERE name = ?", (name,)).fetchone()[0]
            )

        return await self._run(lambda conn: _write(conn, tx))
