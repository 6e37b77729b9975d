"""The SQLite store's schema: the requests table (one column per RequestRecord field), its
indexes, the other tables of the store's parts, and the statements the request hooks share.
"""

from __future__ import annotations

import sqlite3
from dataclasses import fields

from openfal.store.requests import RequestRecord, RequestStatus
from openfal.store.sqlite.auth import AUTH_SCHEMA
from openfal.store.sqlite.history import HISTORY_SCHEMA
from openfal.store.sqlite.outbox import OUTBOX_SCHEMA
from openfal.store.sqlite.runners import RUNNER_SCHEMA
from openfal.store.sqlite.tally import create_tally

# Column types of the requests table, one per RequestRecord field.
COLUMNS: dict[str, str] = {
    "seq": "INTEGER PRIMARY KEY AUTOINCREMENT",
    "id": "TEXT NOT NULL UNIQUE",
    "app_id": "TEXT NOT NULL",
    "path": "TEXT NOT NULL",
    "input": "BLOB NOT NULL",
    "status": "TEXT NOT NULL",
    "priority": "INTEGER NOT NULL",
    "mode": "TEXT NOT NULL",
    "owner": "TEXT",
    "created_at": "REAL NOT NULL",
    "started_at": "REAL",
    "completed_at": "REAL",
    "start_deadline": "REAL",
    "webhook_url": "TEXT",
    "hint": "TEXT",
    "headers": "TEXT",
    "attempts": "INTEGER NOT NULL DEFAULT 0",
    "worker_id": "TEXT",
    "lease_expires": "REAL",
    "cancel_requested": "INTEGER NOT NULL DEFAULT 0",
    "progress": "TEXT",
    "status_code": "INTEGER",
    "result": "BLOB",
    "result_headers": "TEXT",
    "error": "TEXT",
    "error_type": "TEXT",
    "metrics": "TEXT",
}
if set(COLUMNS) != {f.name for f in fields(RequestRecord)}:  # pragma: no cover
    raise RuntimeError("openfal.store.sqlite: requests columns out of sync with RequestRecord")

SCHEMA = [
    "CREATE TABLE IF NOT EXISTS requests ("
    + ", ".join(f"{name} {decl}" for name, decl in COLUMNS.items())
    + ")",
    # Partial indexes, one per status: a row is in the one of its status only, so a write
    # touches few index pages (a request handed off at submit never enters the queue's).
    # claim (_pop_next), queue_position (_queue_rank) and the queue depth: range scans
    # (status is a column too: SQLite reads a partial index alone only when it covers
    # every column the query names)
    "CREATE INDEX IF NOT EXISTS requests_queued ON requests (app_id, status, priority, seq)"
    " WHERE status = 'IN_QUEUE'",
    # lease expiry; the running count of an app scans this (small) index whole
    "CREATE INDEX IF NOT EXISTS requests_running ON requests (lease_expires, app_id, status)"
    " WHERE status = 'IN_PROGRESS'",
    # retention purges
    "CREATE INDEX IF NOT EXISTS requests_done ON requests (completed_at)"
    " WHERE status = 'COMPLETED'",
    "CREATE INDEX IF NOT EXISTS requests_created ON requests (created_at, seq)",
    "CREATE INDEX IF NOT EXISTS requests_owner ON requests (owner, created_at, seq)",
    "CREATE TABLE IF NOT EXISTS logs (request_id TEXT NOT NULL, idx INTEGER NOT NULL,"
    " entry TEXT NOT NULL, PRIMARY KEY (request_id, idx)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS events (request_id TEXT NOT NULL, idx INTEGER NOT NULL,"
    " data BLOB NOT NULL, PRIMARY KEY (request_id, idx)) WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS apps (app_id TEXT PRIMARY KEY, source TEXT NOT NULL,"
    " settings TEXT NOT NULL, endpoints TEXT NOT NULL, registered_at REAL NOT NULL)",
    *AUTH_SCHEMA,
    *OUTBOX_SCHEMA,
    *HISTORY_SCHEMA,
]

HEAD_SQL = (  # the queue's head: add a LIMIT
    "SELECT priority, seq FROM requests WHERE app_id = ? AND status = 'IN_QUEUE'"
    " ORDER BY priority, seq"
)
RANK_SQL = (
    "SELECT COUNT(*) FROM requests WHERE app_id = ? AND status = 'IN_QUEUE'"
    " AND (priority, seq) < (?, ?)"
)
# per status, spelled out: a partial index serves only a query naming its status
COUNT_SQL = {
    status: f"SELECT COUNT(*) FROM requests WHERE app_id = ? AND status = '{status.value}'"
    for status in RequestStatus
}
# the running ones are few: scan their whole index rather than all of the app's rows
COUNT_SQL[RequestStatus.IN_PROGRESS] = (
    "SELECT COUNT(*) FROM requests INDEXED BY requests_running"
    " WHERE app_id = ? AND status = 'IN_PROGRESS'"
)
EXPIRED_SQL = (
    "SELECT * FROM requests INDEXED BY requests_running"
    " WHERE status = 'IN_PROGRESS' AND lease_expires < ? ORDER BY seq"
)
INSERTED = [name for name in COLUMNS if name != "seq"]  # seq: the database assigns it
INSERT_SQL = (
    f"INSERT INTO requests ({', '.join(INSERTED)}) VALUES ({', '.join('?' * len(INSERTED))})"
    " RETURNING seq"
)
# Pages of a new database file. A commit appends every page it changed to the WAL, whole: a
# request's insert changes about seven (its row, the id index, three listing indexes, its
# status's index, the rowid counter) and its completion three, so a smaller page is fewer
# bytes written, copied back at checkpoints and synced (2 KiB: a write ~35 % cheaper than
# SQLite's default 4 KiB, benchmarks/sqlite_writes.py). A file keeps the page size it was
# created with (a WAL file cannot change it).
PAGE_SIZE = 2048
COMPLETED_BEFORE = "SELECT id FROM requests WHERE status = 'COMPLETED' AND completed_at < ?"


def create_schema(conn: sqlite3.Connection) -> None:
    """The tables, indexes and triggers (inside the opening write transaction); a file
    from an older version is brought up to date."""
    # a file from an older version: its whole-table status indexes give way
    for old in ("requests_queue", "requests_lease", "requests_completed"):
        conn.execute(f"DROP INDEX IF EXISTS {old}")
    for statement in SCHEMA + RUNNER_SCHEMA:
        conn.execute(statement)
    create_tally(conn)
    # a file from an older version: add the columns it lacks
    have = {row["name"] for row in conn.execute("PRAGMA table_info(requests)")}
    for name, decl in COLUMNS.items():
        if name not in have:
            conn.execute(f"ALTER TABLE requests ADD COLUMN {name} {decl.split()[0]}")
