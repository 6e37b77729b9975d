"""Group commit: the writes of one event loop tick share one SQLite transaction.

Every write queued during a tick runs on the database thread inside one
``BEGIN IMMEDIATE … COMMIT``, each in a savepoint of its own, so one that fails (a
duplicate id) is rolled back alone and the others commit. Its caller resumes once the
whole batch committed: an answered write is in the database file (WAL, ``synchronous =
NORMAL``: it survives the process being killed; a power loss may take the last commits).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

_T = TypeVar("_T")

Op = Callable[[sqlite3.Connection], Any]
_Outcome = tuple["asyncio.Future[Any]", Any, BaseException | None]


class GroupCommit:
    """Queues writes and commits each tick's batch on the database thread."""

    def __init__(self, run: Callable[[Op], Any]) -> None:
        self._with_conn = run  # runs a function with the connection (on the db thread)
        self._batch: list[tuple[Op, asyncio.Future[Any]]] = []

    async def write(self, executor: Executor, fn: Callable[[sqlite3.Connection], _T]) -> _T:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[_T] = loop.create_future()
        self._batch.append((fn, fut))
        if len(self._batch) == 1:  # the first write of this tick: flush when the tick ends
            loop.call_soon(self._flush, loop, executor)
        return await fut

    def _flush(self, loop: asyncio.AbstractEventLoop, executor: Executor) -> None:
        batch, self._batch = self._batch, []
        try:
            executor.submit(self._commit, loop, batch)
        except RuntimeError as e:  # the executor shut down (the store closed)
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(e)

    def _commit(self, loop: asyncio.AbstractEventLoop, batch: list[tuple[Op, Any]]) -> None:
        try:
            outcomes = self._with_conn(lambda conn: _run_batch(conn, batch))
        except BaseException as e:  # BEGIN or COMMIT failed: nothing of the batch is in
            outcomes = [(fut, None, e) for _, fut in batch]
        loop.call_soon_threadsafe(_resolve, outcomes)


def _run_batch(conn: sqlite3.Connection, batch: list[tuple[Op, Any]]) -> list[_Outcome]:
    outcomes: list[_Outcome] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        for fn, fut in batch:
            conn.execute("SAVEPOINT op")
            try:
                result = fn(conn)
            except Exception as e:
                conn.execute("ROLLBACK TO op")
                conn.execute("RELEASE op")
                outcomes.append((fut, None, e))
            else:
                conn.execute("RELEASE op")
                outcomes.append((fut, result, None))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return outcomes


def _resolve(outcomes: list[_Outcome]) -> None:
    for fut, result, error in outcomes:
        if fut.done():  # its caller was cancelled; the write happened anyway
            continue
        if error is not None:
            fut.set_exception(error)
        else:
            fut.set_result(result)
