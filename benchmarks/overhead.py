"""Platform overhead: openfal serve vs a bare uvicorn echo, measured side by side.

    .venv/bin/python benchmarks/overhead.py [--requests 400] [--seconds 5]

Prints p50/p99 latency of a direct run and of submit→result (polling every 10 ms, and
the SSE status stream) at concurrency 1 and 16, and submits/s, each with its ratio to the
bare echo's direct call.
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

import httpx

HERE = Path(__file__).resolve().parent
BODY = {"message": "hello"}


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(cmd: list[str], url: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=HERE.parent
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"{cmd} did not start")


async def run_once(c: httpx.AsyncClient, url: str) -> None:
    r = await c.post(url, json=BODY)
    r.raise_for_status()


async def submit_poll(c: httpx.AsyncClient, base: str) -> None:
    sub = (await c.post(f"{base}/queue/openfal/echo", json=BODY)).json()
    while (await c.get(sub["status_url"])).json()["status"] != "COMPLETED":
        await asyncio.sleep(0.01)
    (await c.get(sub["response_url"])).raise_for_status()


async def submit_stream(c: httpx.AsyncClient, base: str) -> None:
    sub = (await c.post(f"{base}/queue/openfal/echo", json=BODY)).json()
    async with c.stream("GET", sub["status_url"] + "/stream") as resp:
        async for _ in resp.aiter_lines():
            pass
    (await c.get(sub["response_url"])).raise_for_status()


async def latencies(fn: Callable[[], Awaitable[None]], n: int, concurrency: int) -> list[float]:
    out: list[float] = []
    sem = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with sem:
            t = time.perf_counter()
            await fn()
            out.append(time.perf_counter() - t)

    await asyncio.gather(*(one() for _ in range(n)))
    return out


async def throughput(c: httpx.AsyncClient, base: str, seconds: float) -> float:
    count = 0
    stop = time.perf_counter() + seconds

    async def loop() -> None:
        nonlocal count
        while time.perf_counter() < stop:
            (await c.post(f"{base}/queue/openfal/echo", json=BODY)).raise_for_status()
            count += 1

    t = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(16)))
    return count / (time.perf_counter() - t)


def pct(xs: list[float], p: float) -> float:
    return statistics.quantiles(xs, n=100)[int(p) - 1] * 1000 if len(xs) > 1 else xs[0] * 1000


async def main(n: int, seconds: float) -> None:
    bare_port, serve_port = free_port(), free_port()
    bare = f"http://127.0.0.1:{bare_port}"
    base = f"http://127.0.0.1:{serve_port}"
    py = sys.executable
    with tempfile.TemporaryDirectory() as data:
        procs = [
            start(
                [
                    py,
                    "-m",
                    "uvicorn",
                    "benchmarks.bare_echo:app",
                    "--port",
                    str(bare_port),
                    "--log-level",
                    "warning",
                    "--no-access-log",
                ],
                f"{bare}/docs",
            ),
            start(
                [
                    py,
                    "-m",
                    "openfal",
                    "serve",
                    "--port",
                    str(serve_port),
                    "--data-dir",
                    data,
                    "--log-level",
                    "warning",
                ],
                f"{base}/health",
            ),
        ]
        try:
            limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
            async with httpx.AsyncClient(timeout=60, limits=limits) as c:
                await latencies(lambda: run_once(c, f"{base}/openfal/echo"), 50, 4)  # warm up
                await latencies(lambda: run_once(c, bare + "/"), 50, 4)
                rows = []
                for conc in (1, 16):
                    ref = await latencies(lambda: run_once(c, bare + "/"), n, conc)
                    ref50 = pct(ref, 50)
                    rows.append((f"bare uvicorn echo, c={conc}", ref, ref50))
                    for name, fn in (
                        ("openfal run", lambda: run_once(c, f"{base}/openfal/echo")),
                        ("submit→result (poll 10 ms)", lambda: submit_poll(c, base)),
                        ("submit→result (status stream)", lambda: submit_stream(c, base)),
                    ):
                        rows.append((f"{name}, c={conc}", await latencies(fn, n, conc), ref50))
                subs = await throughput(c, base, seconds)
        finally:
            for p in procs:
                p.terminate()
                p.wait()
    print(
        f"# openfal overhead — {platform.node()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {n} requests per row"
    )
    print("| workload | p50 ms | p99 ms | p50 / bare p50 |")
    print("|---|---:|---:|---:|")
    for name, xs, ref50 in rows:
        print(f"| {name} | {pct(xs, 50):.2f} | {pct(xs, 99):.2f} | {pct(xs, 50) / ref50:.1f}x |")
    print(f"\nsubmits/s (16 concurrent clients, {seconds:g} s): {subs:.0f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--seconds", type=float, default=5.0)
    a = ap.parse_args()
    asyncio.run(main(a.requests, a.seconds))
