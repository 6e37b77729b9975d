"""What keys and limits cost: ``openfal serve`` in dev mode vs with a key vs with limits.

    .venv/bin/python -m benchmarks.auth [--requests 300] [--seconds 5]

Prints, side by side, the p50/p99 of a direct run at concurrency 1 and submits/s with 16
clients for: no keys (dev mode), an API key, and an API key plus a rate limit and a
concurrency limit (high enough never to refuse, so only their store round trips count).
Also the first request of a fresh key (one scrypt hash) against its next ones.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import time

import httpx

from benchmarks.overhead import BODY, free_port, latencies, pct, start


async def run_once(c: httpx.AsyncClient, url: str, headers: dict[str, str]) -> None:
    (await c.post(url, json=BODY, headers=headers)).raise_for_status()


async def submits_per_second(
    c: httpx.AsyncClient, base: str, headers: dict[str, str], seconds: float
) -> float:
    count = 0
    stop = time.perf_counter() + seconds

    async def loop() -> None:
        nonlocal count
        while time.perf_counter() < stop:
            r = await c.post(f"{base}/queue/openfal/echo", json=BODY, headers=headers)
            r.raise_for_status()
            count += 1

    t = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(16)))
    return count / (time.perf_counter() - t)


def create_key(data: str) -> dict[str, str]:
    out = subprocess.run(
        [sys.executable, "-m", "openfal", "keys", "create", "--data-dir", data],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {"authorization": f"Key {out.strip().removeprefix('FAL_KEY=')}"}


async def measure(
    base: str, headers: dict[str, str], n: int, seconds: float
) -> tuple[list[float], float]:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=60, limits=limits) as c:
        url = f"{base}/openfal/echo"
        await latencies(lambda: run_once(c, url, headers), 30, 4)  # warm up
        lat = await latencies(lambda: run_once(c, url, headers), n, 1)
        return lat, await submits_per_second(c, base, headers, seconds)


async def fresh_keys(base: str, data: str, count: int = 5) -> tuple[list[float], list[float]]:
    first, next_ = [], []
    async with httpx.AsyncClient(timeout=60) as c:
        for _ in range(count):
            headers = create_key(data)
            for bucket in (first, next_, next_):
                t = time.perf_counter()
                (await c.get(f"{base}/rest/apps", headers=headers)).raise_for_status()
                bucket.append(time.perf_counter() - t)
    return first, next_


def serve(data: str, port: int, *extra: str) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "openfal",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        data,
        "--log-level",
        "warning",
        *extra,
    ]
    return start(cmd, f"http://127.0.0.1:{port}/health")


async def main(n: int, seconds: float) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as data:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = serve(data, port)
        try:
            rows.append(("no keys (dev mode)", *await measure(base, {}, n, seconds)))
            key = create_key(data)
            rows.append(("API key", *await measure(base, key, n, seconds)))
            first, following = await fresh_keys(base, data)
        finally:
            proc.terminate()
            proc.wait()
        proc = serve(data, port, "--rate-limit", "100000000", "--max-concurrent", "100000")
        try:
            rows.append(
                ("API key + rate and concurrency limits", *await measure(base, key, n, seconds))
            )
        finally:
            proc.terminate()
            proc.wait()
    print(
        f"# keys and limits — {platform.node()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {n} runs per row at c=1"
    )
    print("| mode | run p50 ms | run p99 ms | submits/s (c=16) |")
    print("|---|---:|---:|---:|")
    for name, lat, subs in rows:
        print(f"| {name} | {pct(lat, 50):.2f} | {pct(lat, 99):.2f} | {subs:.0f} |")
    print(
        f"\nGET /rest/apps with a fresh key: first request p50 {pct(first, 50):.1f} ms "
        f"(scrypt), next requests p50 {pct(following, 50):.1f} ms"
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--seconds", type=float, default=5.0)
    a = ap.parse_args()
    asyncio.run(main(a.requests, a.seconds))
