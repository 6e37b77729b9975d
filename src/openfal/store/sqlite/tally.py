"""How many requests each queue holds, kept by triggers: a queue's depth, and the position
of a request near its tail (a fresh submit), without counting the whole queue.

``queue_tally`` holds one row per (app, priority): the number of ``IN_QUEUE`` requests.
Triggers on ``requests`` keep it exact in the same transaction as every change (any
process, any statement), so a read sees the tally and the rows of one snapshot.
"""

from __future__ import annotations

import sqlite3

_UPSERT = " ON CONFLICT (app_id, priority) DO UPDATE SET n = n + 1;"

TALLY_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS queue_tally (app_id TEXT NOT NULL, priority INTEGER NOT NULL,"
    " n INTEGER NOT NULL, PRIMARY KEY (app_id, priority)) WITHOUT ROWID",
    "CREATE TRIGGER IF NOT EXISTS queue_tally_insert AFTER INSERT ON requests"
    " WHEN NEW.status = 'IN_QUEUE' BEGIN"
    " INSERT INTO queue_tally (app_id, priority, n) VALUES (NEW.app_id, NEW.priority, 1)"
    f"{_UPSERT} END",
    "CREATE TRIGGER IF NOT EXISTS queue_tally_delete AFTER DELETE ON requests"
    " WHEN OLD.status = 'IN_QUEUE' BEGIN"
    " UPDATE queue_tally SET n = n - 1 WHERE app_id = OLD.app_id AND priority = OLD.priority;"
    " END",
    # leaving the queue, entering it, or staying (-1 then +1)
    "CREATE TRIGGER IF NOT EXISTS queue_tally_update AFTER UPDATE OF status, app_id, priority"
    " ON requests WHEN OLD.status = 'IN_QUEUE' OR NEW.status = 'IN_QUEUE' BEGIN"
    " UPDATE queue_tally SET n = n - 1"
    " WHERE OLD.status = 'IN_QUEUE' AND app_id = OLD.app_id AND priority = OLD.priority;"
    " INSERT INTO queue_tally (app_id, priority, n)"
    " SELECT NEW.app_id, NEW.priority, 1 WHERE NEW.status = 'IN_QUEUE'"
    f"{_UPSERT} END",
]

NEAR_TAIL = 1000  # a request with fewer behind it is placed from the tally

DEPTH_SQL = "SELECT COALESCE(SUM(n), 0) FROM queue_tally WHERE app_id = ?"
# one statement, one snapshot: queued at priorities up to the request's, and how many of
# its own priority are not ahead of it (itself included), counting at most NEAR_TAIL
TAIL_RANK_SQL = (
    "SELECT (SELECT COALESCE(SUM(n), 0) FROM queue_tally WHERE app_id = ? AND priority <= ?),"
    " (SELECT COUNT(*) FROM (SELECT 1 FROM requests WHERE app_id = ? AND status = 'IN_QUEUE'"
    f" AND priority = ? AND seq >= ? LIMIT {NEAR_TAIL}))"
)


def create_tally(conn: sqlite3.Connection) -> None:
    """Create the tally (inside the schema's write transaction); a file from an older
    version gets it filled from the requests it holds."""
    new = not conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'queue_tally'"
    ).fetchone()
    for statement in TALLY_SCHEMA:
        conn.execute(statement)
    if new:
        conn.execute(
            "INSERT INTO queue_tally (app_id, priority, n) SELECT app_id, priority, COUNT(*)"
            " FROM requests WHERE status = 'IN_QUEUE' GROUP BY app_id, priority"
        )


def tail_rank(conn: sqlite3.Connection, app_id: str, priority: int, seq: int) -> int | None:
    """How many queued requests of ``app_id`` come before (priority, seq), when fewer than
    NEAR_TAIL of its priority come after it; else None (count from the head instead)."""
    up_to, not_ahead = conn.execute(
        TAIL_RANK_SQL, (app_id, priority, app_id, priority, seq)
    ).fetchone()
    if not_ahead >= NEAR_TAIL:
        return None
    return max(int(up_to) - int(not_ahead), 0)
