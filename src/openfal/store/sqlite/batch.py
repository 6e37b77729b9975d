"""Group commit: the writes of one event loop tick share one SQLite transaction.

Every write queued during a tick runs inside one
``BEGIN IMMEDIATE … COMMIT``, each in a savepoint of its own, so one that fails (a
duplicate id) is rolled back alone and the others commit; a write that changes the
database with one statement at most (``atomic``) needs none: a statement that fails
changes nothing. Its caller resumes once the
whole batch committed: an answered write is in the database file (WAL, ``synchronous =
NORMAL``: it survives the process being killed; a power loss may take the last commits).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from openfal.store.sqlite.transaction import transaction

_T = TypeVar("_T")

Op = Callable[[sqlite3.Connection], Any]
_Write = tuple[Op, "asyncio.Future[Any]", bool]  # (function, its caller's future, atomic)
_Outcome = tuple["asyncio.Future[Any]", Any, BaseException | None]


class GroupCommit:
    """Queues writes and commits each tick's batch: at the end of the tick, through
    ``inline`` (the store's connection, when it can be used from the event loop now: it
    returns False otherwise, having changed nothing), else through ``run`` (the store's
    way of running a function on the database thread, which waits for a lock)."""

    def __init__(
        self,
        run: Callable[[Op], Awaitable[Any]],
        inline: Callable[[Op], tuple[bool, Any]] | None = None,
    ) -> None:
        self._run = run
        self._inline = inline
        self._batch: list[_Write] = []
        self.batches = 0  # batches run (committed or not): what a write saw may have moved
        self._tasks: set[asyncio.Task[None]] = set()

    async def write(self, fn: Callable[[sqlite3.Connection], _T], *, atomic: bool = False) -> _T:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[_T] = loop.create_future()
        self._batch.append((fn, fut, atomic))
        if len(self._batch) == 1:  # the first write of this tick: flush when the tick ends
            loop.call_soon(self._flush, loop)
        return await fut

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        batch, self._batch = self._batch, []
        if self._inline is not None:  # the common case: no task, no further tick
            try:
                done, outcomes = self._inline(lambda conn: _run_batch(conn, batch))
            except BaseException as e:  # BEGIN or COMMIT failed: nothing of the batch is in
                done, outcomes = True, [(fut, None, e) for _, fut, _ in batch]
            if done:
                self.batches += 1
                _resolve(outcomes)
                return
        task = loop.create_task(self._commit(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _commit(self, batch: list[_Write]) -> None:
        try:
            outcomes = await self._run(lambda conn: _run_batch(conn, batch))
        except BaseException as e:  # BEGIN or COMMIT failed: nothing of the batch is in
            outcomes = [(fut, None, e) for _, fut, _ in batch]
        finally:
            self.batches += 1
        _resolve(outcomes)


def _run_batch(conn: sqlite3.Connection, batch: list[_Write]) -> list[_Outcome]:
    outcomes: list[_Outcome] = []
    if len(batch) == 1:  # alone: its own transaction, no savepoint needed
        fn, fut, _ = batch[0]
        try:
            return [(fut, transaction(conn, fn), None)]
        except sqlite3.OperationalError:
            raise  # rolled back (the file may be locked: the caller retries on its thread)
        except Exception as e:
            return [(fut, None, e)]
    conn.execute("BEGIN IMMEDIATE")
    try:
        for fn, fut, atomic in batch:
            if atomic:
                try:
                    outcomes.append((fut, fn(conn), None))
                except sqlite3.OperationalError:
                    raise  # the transaction itself is in trouble: roll the batch back
                except Exception as e:
                    outcomes.append((fut, None, e))
                continue
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
