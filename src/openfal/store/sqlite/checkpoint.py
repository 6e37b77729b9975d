"""WAL checkpoints off the event loop.

The store's connection runs its statements inline on the event loop and never checkpoints
(``wal_autocheckpoint = 0``): a checkpoint copies the WAL into the database file and
syncs it, which takes milliseconds. A connection of its own, on a thread of its own, does
it instead, once a second while the WAL grew: ``PASSIVE``, so it never waits for (or
blocks) a writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)

EVERY = 1.0  # seconds between checkpoints


class Checkpointer:
    def __init__(self, path: str, uri: bool) -> None:
        self.path, self.uri = path, uri
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="openfal-wal")
        self._conn: sqlite3.Connection | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait([task])
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._close)
        finally:
            self._executor.shutdown(wait=True)

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(EVERY)
            try:
                await loop.run_in_executor(self._executor, self._checkpoint)
            except Exception as e:
                log.warning("WAL checkpoint of %s failed: %s", self.path, e)

    def _checkpoint(self) -> None:
        if self._conn is None:
            self._conn = sqlite3.connect(self.path, timeout=0, isolation_level=None, uri=self.uri)
        self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            conn.close()
