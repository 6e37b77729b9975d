"""The SQLite store (``sqlite:///path``): one file, shareable by processes on one machine."""

from openfal.store.sqlite.schema import COUNT_SQL, EXPIRED_SQL, HEAD_SQL, RANK_SQL
from openfal.store.sqlite.store import SQLiteStore

__all__ = ["COUNT_SQL", "EXPIRED_SQL", "HEAD_SQL", "RANK_SQL", "SQLiteStore"]
