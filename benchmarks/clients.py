"""openfal.client vs the official fal_client (pointed with use_server), side by side.

    .venv/bin/python benchmarks/clients.py [--requests 200]

Against one ``openfal serve`` (built-in ``openfal/echo``), prints p50/p99 latency of
``run``, ``subscribe`` and ``submit`` + ``get`` with each client's sync API (one call at a
time) and ``subscribe_async`` with 16 at once. openfal.client waits on the SSE status stream;
fal_client polls status every 0.1 s (its default).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import fal_client
import httpx

import openfal.client
from openfal.compat import use_server

HERE = Path(__file__).resolve().parent
APP, BODY = "openfal/echo", {"message": "hello"}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(port: int, data: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "openfal", "serve", "--port", str(port), "--data-dir", data]
    proc = subprocess.Popen(
        [*cmd, "--log-level", "warning"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=HERE.parent,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("openfal serve did not start")


def timed_pair(a: Callable[[], Any], b: Callable[[], Any], n: int) -> tuple[list[float], ...]:
    """Alternate the two calls so both see the same machine load."""
    out: tuple[list[float], list[float]] = ([], [])
    for _ in range(n):
        for fn, xs in ((a, out[0]), (b, out[1])):
            t = time.perf_counter()
            fn()
            xs.append(time.perf_counter() - t)
    return out


async def timed_async(fn: Callable[[], Awaitable[Any]], n: int, concurrency: int) -> list[float]:
    out: list[float] = []
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            t = time.perf_counter()
            await fn()
            out.append(time.perf_counter() - t)

    await asyncio.gather(*(one() for _ in range(n)))
    return out


def pct(xs: list[float], p: int) -> float:
    return statistics.quantiles(xs, n=100)[p - 1] * 1000


def cell(xs: list[float]) -> str:
    return f"{pct(xs, 50):.1f} / {pct(xs, 99):.1f}"


def sync_rows(ours: Any, theirs: Any, n: int) -> list[tuple[list[float], ...]]:
    ours.run(APP, BODY)  # warm up: the runner starts on the first request
    theirs.run(APP, BODY)
    return [
        timed_pair(lambda: ours.run(APP, BODY), lambda: theirs.run(APP, BODY), n),
        timed_pair(lambda: ours.subscribe(APP, BODY), lambda: theirs.subscribe(APP, BODY), n),
        timed_pair(lambda: ours.submit(APP, BODY).get(), lambda: theirs.submit(APP, BODY).get(), n),
    ]


def async_row(client: Any, n: int) -> list[float]:
    async def go() -> list[float]:
        return await timed_async(lambda: client.subscribe(APP, BODY), n, 16)

    return asyncio.run(go())


def main(n: int) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data:
        proc = start_server(port, data)
        try:
            use_server(url)
            rows = sync_rows(openfal.client.SyncClient(base_url=url), fal_client.SyncClient(), n)
            ours_async = async_row(openfal.client.AsyncClient(base_url=url), n)
            rows.append((ours_async, async_row(fal_client.AsyncClient(), n)))
        finally:
            proc.terminate()
            proc.wait()
    names = ["run, c=1", "subscribe, c=1", "submit + get, c=1", "subscribe_async, c=16"]
    print(
        f"# clients — {platform.node()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, fal-client {fal_client.__version__}, {n} calls per row"
    )
    print("| workload | openfal.client p50 / p99 ms | fal_client p50 / p99 ms |")
    print("|---|---:|---:|")
    for name, (a, b) in zip(names, rows, strict=True):
        print(f"| {name} | {cell(a)} | {cell(b)} |")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=200)
    main(ap.parse_args().requests)
