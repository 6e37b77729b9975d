"""``GET /rest/requests`` page by page: is a page as fast at the end as at the start?

    .venv/bin/python -m benchmarks.history [--requests 10000] [--limit 100] [--big 100000]

Fills a SQLite store and a Redis store (a real ``redis-server`` on loopback) with
``--requests`` requests through ``Store.enqueue``, then walks every page of
``GET /rest/requests?limit=N&cursor=…`` through the gateway (in-process ASGI transport),
as an ADMIN (everyone's requests) and as one user (their requests: a third of them).
Prints the time of the first, middle and last pages, their median and the slowest, then
repeats the SQLite walk at ``--big`` requests (bulk-inserted rows, the same index).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from tests.store.redis_server import start_redis

from openfal.gateway import create_app
from openfal.store import KeyScope, Store
from openfal.store.requests import RequestRecord, record_to_row

USERS = ("ann", "bob", "cy")
HEADER = (
    "| store, caller | requests | pages | first ms | middle ms | last ms | median ms | max ms |"
)


async def fill(store: Store, n: int) -> None:
    batch = 20  # concurrent enqueues (a Redis client pools a few connections)
    for start in range(0, n, batch):
        await asyncio.gather(
            *(
                store.enqueue("openfal/echo", "", b'{"message": "hi"}', owner=USERS[i % 3])
                for i in range(start, min(start + batch, n))
            )
        )


def bulk_fill(path: Path, n: int) -> None:
    """``n`` rows in one transaction (what ``enqueue`` would write, minus the wait)."""
    conn = sqlite3.connect(path)
    t0 = time.time() - n * 0.001
    rows = []
    for i in range(n):
        rec = RequestRecord(
            id=f"bulk-{i:08d}", app_id="openfal/echo", path="", input=b"{}",
            owner=USERS[i % 3], created_at=t0 + i * 0.001,
        )  # fmt: skip
        row = record_to_row(rec)
        del row["seq"]
        rows.append(row)
    names = list(rows[0])
    sql = f"INSERT INTO requests ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})"
    with conn:
        conn.executemany(sql, [tuple(r[k] for k in names) for r in rows])
    conn.close()


async def walk(client: httpx.AsyncClient, headers: dict[str, str], limit: int) -> list[float]:
    """Seconds per page, every page in order."""
    times: list[float] = []
    cursor: str | None = None
    seen = 0
    while True:
        params = {"limit": str(limit), **({"cursor": cursor} if cursor else {})}
        t = time.perf_counter()
        r = await client.get("/rest/requests", params=params, headers=headers)
        times.append(time.perf_counter() - t)
        r.raise_for_status()
        body = r.json()
        seen += len(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return times


def row(name: str, n: int, times: list[float]) -> str:
    ms = [t * 1000 for t in times]
    mid = ms[len(ms) // 2]
    return (
        f"| {name} | {n} | {len(ms)} | {ms[0]:.2f} | {mid:.2f} | {ms[-1]:.2f} |"
        f" {statistics.median(ms):.2f} | {max(ms[1:] or ms):.2f} |"
    )


async def measure(store: Store, n: int, limit: int, label: str) -> list[str]:
    app = create_app(store)
    admin_key, admin_secret = await store.create_key("root", KeyScope.ADMIN)
    ann_key, ann_secret = await store.create_key("ann", KeyScope.API)
    admin = {"authorization": f"Key {admin_key.id}:{admin_secret}"}
    ann = {"authorization": f"Key {ann_key.id}:{ann_secret}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as c:
        await walk(c, admin, limit)  # warm caches (and check each key once: scrypt)
        await walk(c, ann, limit)
        return [
            row(f"{label}, ADMIN (everyone)", n, await walk(c, admin, limit)),
            row(f"{label}, one user (1/3)", n, await walk(c, ann, limit)),
        ]


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--limit", type=int, default=100)
    ap.add_argument("--big", type=int, default=100_000)
    args = ap.parse_args()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    print(f"commit {commit}, {platform.python_version()}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.2f}; pages of {args.limit}")  # fmt: skip
    print(
        "| store, caller | requests | pages | first ms | middle ms | last ms | median ms | max ms |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "h.db"
        sqlite = Store.from_url(f"sqlite:///{db}")
        await sqlite.open()
        await fill(sqlite, args.requests)
        for line in await measure(sqlite, args.requests, args.limit, "SQLite"):
            print(line, flush=True)
        await sqlite.close()

        server = start_redis(Path(tmp) / "redis")
        try:
            redis = Store.from_url(server.url)
            await redis.open()
            await fill(redis, args.requests)
            for line in await measure(redis, args.requests, args.limit, "Redis"):
                print(line, flush=True)
            await redis.close()
        finally:
            server.stop()

        if args.big:
            big = Path(tmp) / "big.db"
            store = Store.from_url(f"sqlite:///{big}")
            await store.open()
            await store.close()
            bulk_fill(big, args.big)
            store = Store.from_url(f"sqlite:///{big}")
            await store.open()
            for line in await measure(store, args.big, args.limit, "SQLite"):
                print(line, flush=True)
            await store.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
