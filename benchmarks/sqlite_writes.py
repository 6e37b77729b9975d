"""What one SQLite write of a request costs: its statements one by one, and the store's calls.

    taskset -c 0 .venv/bin/python benchmarks/sqlite_writes.py [--n 1000]

Opens a fresh SQLite store (the real schema: the requests table, its partial and listing
indexes, the queue tally's triggers) with 2,000 requests in it, then times, per write:

- ``BEGIN IMMEDIATE``, the ``INSERT`` of a request row and ``COMMIT``, run directly on the
  store's connection (the cost of the database itself);
- ``enqueue``, ``claim`` and ``complete`` through the store, one at a time (each its own
  group commit), with the Python around them.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from openfal.store.records import record_to_row
from openfal.store.sqlite import SQLiteStore, schema

APP = "bench/app"
FILL = "bench/fill"  # the 2,000 requests already there (queued, another app)


async def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        st = SQLiteStore(str(Path(tmp) / "bench.db"))
        await st.open()
        try:
            for _ in range(2000):
                await st.enqueue(FILL, "", b"{}")
            conn = st._conn
            assert conn is not None
            template = await st.enqueue(FILL, "", b'{"message": "hello"}', mode="run")
            row = record_to_row(template)
            values = [row[name] for name in schema.INSERTED]
            begin = insert = commit = 0.0
            for i in range(n):
                values[0] = f"raw-{i}"
                t0 = time.perf_counter()
                conn.execute("BEGIN IMMEDIATE")
                t1 = time.perf_counter()
                conn.execute(schema.INSERT_SQL, values).fetchall()
                t2 = time.perf_counter()
                conn.execute("COMMIT")
                t3 = time.perf_counter()
                begin, insert, commit = begin + t1 - t0, insert + t2 - t1, commit + t3 - t2
            print(
                f"statements: BEGIN IMMEDIATE {begin / n * 1e6:.0f} µs, INSERT "
                f"{insert / n * 1e6:.0f} µs, COMMIT {commit / n * 1e6:.0f} µs"
            )

            ids = []
            t0 = time.perf_counter()
            for _ in range(n):
                ids.append((await st.enqueue(APP, "", b"{}")).id)
            t1 = time.perf_counter()
            for _ in range(n):
                await st.claim([APP], "w")
            t2 = time.perf_counter()
            for request_id in ids:
                await st.complete(request_id, status_code=200, body=b"{}", worker_id="w")
            t3 = time.perf_counter()
            print(
                f"store calls: enqueue {(t1 - t0) / n * 1e6:.0f} µs, claim "
                f"{(t2 - t1) / n * 1e6:.0f} µs, complete {(t3 - t2) / n * 1e6:.0f} µs"
            )
        finally:
            await st.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000)
    asyncio.run(main(parser.parse_args().n))
