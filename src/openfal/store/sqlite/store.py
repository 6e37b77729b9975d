"""SQLite store: one file, shareable by several processes on one machine.

Statements run inline on the event loop: in WAL mode one takes microseconds, less than a
hop to a thread. A write that finds the file locked by another process (a CLI command
while the server runs) fails at once, having changed nothing, and goes to the store's
database thread, which waits for the lock; while that thread has work, everything goes
there, in order. Readers never block the writer, and every read-then-write runs inside
``BEGIN IMMEDIATE`` so that another process cannot interleave with it. The writes of one
event-loop tick share one transaction (``batch.py``); WAL checkpoints run on a thread of
their own (``checkpoint.py``); the schema is in ``schema.py``.

Cross-process changes are noticed by polling ``PRAGMA data_version`` while someone in
this process waits for a change or for work.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from openfal.store import clock as store_clock
from openfal.store.apps import AppRecord
from openfal.store.contract import Store
from openfal.store.requests import (
    JSON_FIELDS,
    LogEntry,
    RequestRecord,
    RequestStatus,
    evolve,
    record_to_row,
    row_to_record,
)
from openfal.store.sqlite.auth import SQLiteAuth
from openfal.store.sqlite.batch import GroupCommit
from openfal.store.sqlite.checkpoint import Checkpointer
from openfal.store.sqlite.deploy import SQLiteDeploy
from openfal.store.sqlite.done import DoneRecords
from openfal.store.sqlite.history import SQLiteHistory
from openfal.store.sqlite.outbox import SQLiteOutbox
from openfal.store.sqlite.runners import SQLiteRunners
from openfal.store.sqlite.schema import (
    COLUMNS,
    COMPLETED_BEFORE,
    COUNT_SQL,
    EXPIRED_SQL,
    HEAD_SQL,
    INSERT_SQL,
    INSERTED,
    PAGE_SIZE,
    RANK_SQL,
    create_schema,
)
from openfal.store.sqlite.tally import DEPTH_SQL, tail_rank
from openfal.store.sqlite.transaction import transaction as _write

log = logging.getLogger(__name__)

_T = TypeVar("_T")

_RANKS_KEPT = 1024  # queue positions of fresh submits not asked for yet (runs are not kept)


def _encode(name: str, value: Any) -> Any:
    """A RequestRecord field value as stored in its column."""
    if name not in COLUMNS:
        raise KeyError(f"unknown request field {name!r}")
    if name == "status":
        return RequestStatus(value).value
    if name in JSON_FIELDS:
        return json.dumps(value) if value is not None else None
    if name in ("priority", "cancel_requested"):
        return int(value)
    return value


def _record(row: sqlite3.Row | None) -> RequestRecord | None:
    return row_to_record(dict(row)) if row is not None else None


def _file_path(path: str) -> str:
    return path if path.startswith("file:") else str(Path(path).expanduser())


def _locked(e: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY / SQLITE_LOCKED: another connection holds the lock."""
    code = getattr(e, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    return "locked" in str(e) or "busy" in str(e)


def _first(rows: list[sqlite3.Row]) -> RequestRecord | None:
    return row_to_record(dict(rows[0])) if rows else None


class SQLiteStore(SQLiteAuth, SQLiteOutbox, SQLiteRunners, SQLiteDeploy, SQLiteHistory, Store):
    """A :class:`Store` in one SQLite file (``sqlite:///path``)."""

    def __init__(self, path: str, *, poll_interval: float = 0.2, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = path
        self.poll_interval = poll_interval
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False
        self._waiters = 0
        self._watcher: asyncio.Task[None] | None = None
        # only touched on the executor thread:
        self._conn: sqlite3.Connection | None = None
        self._data_version: int | None = None
        self._group = GroupCommit(self._on_thread, self._inline)
        self._threaded = 0  # functions running (or queued) on the database thread
        self._done_here = DoneRecords()  # what this process completed (see done.py)
        # request id -> (seq, queue position when stored, the group commit's batch count
        # after its batch): what its submit answers, unless this store wrote since
        self._ranks: dict[str, tuple[int, int, int]] = {}
        file = path not in ("", ":memory:") and "mode=memory" not in path
        self._checkpointer = (
            Checkpointer(_file_path(path), path.startswith("file:")) if file else None
        )

    # ------------------------------------------------------------------ lifecycle

    async def open(self) -> None:
        self._closed = False
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="openfal-sqlite")
        await asyncio.get_running_loop().run_in_executor(self._executor, self._connect)
        if self._checkpointer is not None:
            self._checkpointer.start()

    async def close(self) -> None:
        self._closed = True
        checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            await checkpointer.stop()
        watcher = self._watcher
        if watcher is not None:
            watcher.cancel()
            await asyncio.wait([watcher])
        executor, self._executor = self._executor, None
        if executor is None:
            return
        try:
            await asyncio.get_running_loop().run_in_executor(executor, self._disconnect)
        finally:
            executor.shutdown(wait=True)

    def _connect(self) -> None:
        if self._conn is not None:
            return
        path, uri = self.path or ":memory:", self.path.startswith("file:")
        if not uri and path != ":memory:":
            path = str(Path(path).expanduser())
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # used from the event loop and from the database thread, never both at once
        conn = sqlite3.connect(
            path, timeout=5.0, isolation_level=None, uri=uri, check_same_thread=False
        )
        try:
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA busy_timeout = 5000")
            conn.execute(f"PRAGMA page_size = {PAGE_SIZE:d}")  # a new file only: see PAGE_SIZE
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            _write(conn, create_schema)
            self._data_version = conn.execute("PRAGMA data_version").fetchone()[0]
            conn.execute("PRAGMA busy_timeout = 0")  # see _run
            if self._checkpointer is not None:
                conn.execute("PRAGMA wal_autocheckpoint = 0")  # see checkpoint.py
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    def _disconnect(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def _run(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        """Run ``fn(connection)``: inline on the event loop when it cannot wait (nothing
        is running on the database thread, and the file is not locked by another
        process), else on the database thread, which waits for the lock.

        An SQLite statement in WAL mode takes microseconds, far less than handing it to
        a thread; a write that finds the file locked fails at once (busy timeout 0 here)
        before changing anything, and goes to the thread instead.
        """
        done, result = self._inline(fn)
        if done:
            return result  # type: ignore[return-value]
        return await self._on_thread(fn)

    def _inline(self, fn: Callable[[sqlite3.Connection], _T]) -> tuple[bool, _T | None]:
        """``(True, fn(connection))`` run here, on the event loop, when nothing runs on the
        database thread and the file is not locked by another process; else ``(False,
        None)``, nothing changed (the write that found the lock failed whole)."""
        conn = self._conn
        if conn is not None and self._threaded == 0 and not self._closed:
            try:
                return True, fn(conn)
            except sqlite3.OperationalError as e:
                if not _locked(e):
                    raise
        return False, None

    async def _on_thread(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        if self._executor is None:
            if self._closed:
                raise RuntimeError("the SQLite store is closed")
            await self.open()
            if self._conn is not None and self._threaded == 0:
                return await self._run(fn)
        assert self._executor is not None
        self._threaded += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._executor, self._with_conn_waiting, fn
            )
        finally:
            self._threaded -= 1

    async def _transact(
        self, fn: Callable[[sqlite3.Connection], _T], *, atomic: bool = False
    ) -> _T:
        """Run ``fn(connection)`` as one write of this tick's group commit (``atomic``: it
        changes the database with one statement at most, which fails whole)."""
        return await self._group.write(fn, atomic=atomic)

    def _with_conn_waiting(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        """On the database thread: wait up to 5 s for another process's lock."""
        conn = self._conn
        if conn is None:
            raise RuntimeError("the SQLite store is not open")
        conn.execute("PRAGMA busy_timeout = 5000")
        try:
            return fn(conn)
        finally:
            conn.execute("PRAGMA busy_timeout = 0")

    def _with_conn(self, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        if self._conn is None:
            raise RuntimeError("the SQLite store is not open")
        return fn(self._conn)

    # ------------------------------------------------------------------ waiting
    #
    # Reads run on another thread, so a change can be notified while a caller's read
    # is in flight, before it waits. Reads therefore make sure an event exists first:
    # such a change sets it, and the wait that follows returns at once.

    def _completed(self, rec: Any) -> None:
        super()._completed(rec)
        self._done_here.keep(rec)

    def _arm(self, request_id: str) -> object | None:
        if request_id in self._changed:
            return None
        ev = self._changed[request_id] = asyncio.Event()
        return ev

    def _disarm(self, request_id: str, token: object) -> None:
        ev = self._changed.get(request_id)
        if ev is token and ev is not None and not ev.is_set():
            del self._changed[request_id]

    async def _wait_change(self, request_id: str, timeout: float) -> bool:
        self._waiters += 1
        try:
            self._watch_other_processes()
            return await super()._wait_change(request_id, timeout)
        finally:
            self._waiters -= 1

    async def _wait_work(self, timeout: float, key: str | None) -> None:
        self._waiters += 1
        try:
            self._watch_other_processes()
            await super()._wait_work(timeout, key)
        finally:
            self._waiters -= 1

    async def _await_done(self, fut: asyncio.Future[Any], timeout: float) -> None:
        self._waiters += 1
        try:
            self._watch_other_processes()
            await super()._await_done(fut, timeout)
        finally:
            self._waiters -= 1

    def _watch_other_processes(self) -> None:
        if self._watcher is None and self.poll_interval > 0 and not self._closed:
            self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        """While someone waits, wake every waiter when another connection commits."""
        try:
            while self._waiters > 0:
                await asyncio.sleep(self.poll_interval)
                try:
                    changed = await self._run(self._external_change)
                except Exception:
                    log.exception("polling %s for changes failed", self.path)
                    continue
                if changed:
                    for request_id in list(self._changed):
                        self._notify(request_id)
                    self._notify_work()
                    self._wake_done()
        finally:
            if self._watcher is asyncio.current_task():
                self._watcher = None

    def _external_change(self, conn: sqlite3.Connection) -> bool:
        version: int = conn.execute("PRAGMA data_version").fetchone()[0]
        changed = self._data_version is not None and version != self._data_version
        self._data_version = version
        return changed

    # ------------------------------------------------------------------ requests

    async def _insert(self, rec: RequestRecord, *, minted: bool = False) -> RequestRecord:
        row = record_to_row(rec)  # already in column form
        values = [row[name] for name in INSERTED]
        submitted = rec.status is RequestStatus.IN_QUEUE and rec.mode == "queue"
        app_id, priority = rec.app_id, int(rec.priority)

        def op(conn: sqlite3.Connection) -> tuple[int, int | None]:
            try:
                # fetchall: a RETURNING statement is done (and committed) once fully read
                seq = int(conn.execute(INSERT_SQL, values).fetchall()[0][0])
            except sqlite3.IntegrityError as e:
                raise ValueError(f"request {rec.id!r} already exists") from e
            if not submitted:
                return seq, None
            # a submit answers with its queue position: read it here, in the write, and
            # keep it while no later batch ran (see _queue_rank)
            rank = tail_rank(conn, app_id, priority, seq)
            if rank is not None:
                self._ranks[rec.id] = (seq, rank, self._group.batches + 1)
                while len(self._ranks) > _RANKS_KEPT:
                    del self._ranks[next(iter(self._ranks))]
            return seq, rank

        # one statement that fails whole: no savepoint needed in a batch
        seq, _ = await self._transact(op, atomic=True)
        # what was written, with the seq the database gave it: nothing to read back
        return evolve(rec, seq=seq)

    async def _get(self, request_id: str) -> RequestRecord | None:
        # the clock that stamped completed_at (tests move it)
        done = self._done_here.get(request_id, store_clock.now() - self.retention)
        if done is not None:
            return done
        return await self._run(
            lambda conn: _record(
                conn.execute("SELECT * FROM requests WHERE id = ?", (request_id,)).fetchone()
            )
        )

    async def _update(
        self,
        request_id: str,
        expect_status: set[RequestStatus],
        changes: dict[str, Any],
        *,
        worker_id: str | None = None,
        lease_before: float | None = None,
    ) -> RequestRecord | None:
        statuses = [RequestStatus(s).value for s in expect_status]
        where = f"id = ? AND status IN ({', '.join('?' * len(statuses))})"
        params: list[Any] = [request_id, *statuses]
        if worker_id is not None:
            where += " AND worker_id = ?"
            params.append(worker_id)
        if lease_before is not None:
            where += " AND lease_expires < ?"
            params.append(lease_before)
        assignments = ", ".join(f"{name} = ?" for name in changes)
        values = [_encode(name, value) for name, value in changes.items()]

        requeued = changes.get("status") == RequestStatus.IN_QUEUE

        def tx(conn: sqlite3.Connection) -> list[sqlite3.Row]:
            if not changes:
                return conn.execute(f"SELECT * FROM requests WHERE {where}", params).fetchall()
            rows = conn.execute(
                f"UPDATE requests SET {assignments} WHERE {where} RETURNING *",
                [*values, *params],
            ).fetchall()
            if rows and requeued:  # streams afresh
                conn.execute("DELETE FROM events WHERE request_id = ?", (request_id,))
            return rows

        # the rows are decoded after the commit: a write that is one statement (all but a
        # requeue) then fails whole or not at all, and needs no savepoint in a batch
        return _first(await self._transact(tx, atomic=not requeued))

    async def _pop_next(self, app_ids: list[str], changes: dict[str, Any]) -> RequestRecord | None:
        recs = await self._pop_many(app_ids, changes, 1)
        return recs[0] if recs else None

    async def _pop_many(
        self, app_ids: list[str], changes: dict[str, Any], limit: int
    ) -> list[RequestRecord]:
        apps = list(dict.fromkeys(app_ids))
        # see "waiting": a request queued meanwhile is not missed
        self._arm_work(apps[0] if len(apps) == 1 else None)
        assignments = "".join(f"{name} = ?, " for name in changes)
        values = [_encode(name, value) for name, value in changes.items()]

        def heads(conn: sqlite3.Connection) -> list[int]:
            """The seqs of the first ``limit`` queued requests of ``apps``, in order."""
            found: list[tuple[int, int]] = []
            for app_id in apps:
                rows = conn.execute(HEAD_SQL + f" LIMIT {limit:d}", (app_id,)).fetchall()
                found += [(row[0], row[1]) for row in rows]
            return [seq for _, seq in sorted(found)[:limit]]

        def tx(conn: sqlite3.Connection) -> tuple[list[int], list[sqlite3.Row]]:
            seqs = heads(conn)
            if not seqs:
                return seqs, []
            rows = conn.execute(
                f"UPDATE requests SET {assignments}attempts = attempts + 1"
                f" WHERE seq IN ({', '.join('?' * len(seqs))}) RETURNING *",
                [*values, *seqs],
            ).fetchall()
            return seqs, rows

        # look without the write lock first: an empty queue costs no lock
        if not await self._run(heads):
            return []
        # one write statement (after a read): atomic; decoded after the commit
        seqs, rows = await self._transact(tx, atomic=True)
        order = {seq: i for i, seq in enumerate(seqs)}
        return sorted((row_to_record(dict(r)) for r in rows), key=lambda r: order[r.seq])

    async def _queue_rank(self, rec: RequestRecord) -> int:
        app_id, priority, seq = rec.app_id, int(rec.priority), rec.seq
        fresh = self._ranks.pop(rec.id, None)
        if fresh is not None and fresh[0] == seq and fresh[2] == self._group.batches:
            return fresh[1]  # its submit asks: nothing was written here since it was

        def rank(conn: sqlite3.Connection) -> int:
            # near the tail (a fresh submit): from the tally; else count from the head
            near = tail_rank(conn, app_id, priority, seq)
            if near is not None:
                return near
            return int(conn.execute(RANK_SQL, (app_id, priority, seq)).fetchone()[0])

        return await self._run(rank)

    async def _count(self, app_id: str, status: RequestStatus) -> int:
        sql = DEPTH_SQL if status is RequestStatus.IN_QUEUE else COUNT_SQL[RequestStatus(status)]
        return await self._run(lambda conn: int(conn.execute(sql, (app_id,)).fetchone()[0]))

    async def _expired_leases(self, t: float) -> list[RequestRecord]:
        return await self._run(
            lambda conn: [row_to_record(dict(r)) for r in conn.execute(EXPIRED_SQL, (t,))]
        )

    async def _list(
        self, app_id: str | None, status: RequestStatus | None, owner: str | None, limit: int
    ) -> list[RequestRecord]:
        conditions: list[str] = []
        params: list[Any] = []
        for column, value in (("app_id", app_id), ("status", status), ("owner", owner)):
            if value is not None:
                conditions.append(f"{column} = ?")
                params.append(_encode(column, value))
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        sql = f"SELECT * FROM requests {where} ORDER BY created_at DESC, seq DESC LIMIT ?"
        params.append(max(limit, 0))
        return await self._run(
            lambda conn: [row_to_record(dict(r)) for r in conn.execute(sql, params)]
        )

    async def _delete_completed_before(self, t: float) -> int:
        def tx(conn: sqlite3.Connection) -> list[str]:
            ids = [row[0] for row in conn.execute(COMPLETED_BEFORE, (t,))]
            if ids:
                for table in ("logs", "events"):
                    conn.execute(
                        f"DELETE FROM {table} WHERE request_id IN ({COMPLETED_BEFORE})", (t,)
                    )
                conn.execute(f"DELETE FROM requests WHERE id IN ({COMPLETED_BEFORE})", (t,))
            return ids

        ids = await self._transact(tx)
        for request_id in ids:
            self._changed.pop(request_id, None)
            self._done_here.forget(request_id)
        return len(ids)

    # ------------------------------------------------------------------ logs and events

    async def _append_rows(
        self, table: str, column: str, request_id: str, values: Iterable[Any]
    ) -> None:
        items = list(values)

        def tx(conn: sqlite3.Connection) -> None:
            start = conn.execute(
                f"SELECT COALESCE(MAX(idx) + 1, 0) FROM {table} WHERE request_id = ?",
                (request_id,),
            ).fetchone()[0]
            conn.executemany(
                f"INSERT INTO {table} (request_id, idx, {column}) VALUES (?, ?, ?)",
                [(request_id, start + i, value) for i, value in enumerate(items)],
            )

        await self._transact(tx)

    async def _get_rows(self, table: str, column: str, request_id: str, since: int) -> list[Any]:
        sql = f"SELECT {column} FROM {table} WHERE request_id = ? AND idx >= ? ORDER BY idx"
        return await self._run(
            lambda conn: [row[0] for row in conn.execute(sql, (request_id, max(since, 0)))]
        )

    async def _append_logs(self, request_id: str, entries: list[LogEntry]) -> None:
        await self._append_rows(
            "logs", "entry", request_id, (json.dumps(e.to_json()) for e in entries)
        )

    async def _get_logs(self, request_id: str, since: int) -> list[LogEntry]:
        rows = await self._get_rows("logs", "entry", request_id, since)
        return [LogEntry(**json.loads(row)) for row in rows]

    async def _append_event(self, request_id: str, data: bytes) -> None:
        await self._append_rows("events", "data", request_id, [bytes(data)])

    async def _get_events(self, request_id: str, since: int) -> list[bytes]:
        rows = await self._get_rows("events", "data", request_id, since)
        return [bytes(row) for row in rows]

    # ------------------------------------------------------------------ apps

    async def _put_app(self, app: AppRecord) -> None:
        values = (
            app.app_id,
            app.source,
            json.dumps(app.settings),
            json.dumps(app.endpoints),
            app.registered_at,
        )

        def op(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT OR REPLACE INTO apps (app_id, source, settings, endpoints, registered_at)"
                " VALUES (?, ?, ?, ?, ?)",
                values,
            )

        await self._run(op)

    async def _get_app(self, app_id: str) -> AppRecord | None:
        row = await self._run(
            lambda conn: conn.execute("SELECT * FROM apps WHERE app_id = ?", (app_id,)).fetchone()
        )
        return _app(row) if row is not None else None

    async def _list_apps(self) -> list[AppRecord]:
        rows = await self._run(
            lambda conn: conn.execute("SELECT * FROM apps ORDER BY app_id").fetchall()
        )
        return [_app(row) for row in rows]

    async def _delete_app(self, app_id: str) -> bool:
        return await self._run(
            lambda conn: conn.execute("DELETE FROM apps WHERE app_id = ?", (app_id,)).rowcount > 0
        )


def _app(row: sqlite3.Row) -> AppRecord:
    return AppRecord(
        app_id=row["app_id"],
        source=row["source"],
        settings=json.loads(row["settings"]),
        endpoints=json.loads(row["endpoints"]),
        registered_at=row["registered_at"],
    )
