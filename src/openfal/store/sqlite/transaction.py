"""The one SQLite write transaction every part of the SQLite store uses."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TypeVar

__all__ = ["transaction"]

_T = TypeVar("_T")


def transaction(conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], _T]) -> _T:
    """Run ``fn`` in a write transaction taken up front (``BEGIN IMMEDIATE``: no
    interleaving writer, even from another process), rolled back if it raises; inside one
    already (a group commit's batch), just run it."""
    if conn.in_transaction:
        return fn(conn)
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = fn(conn)
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return result
