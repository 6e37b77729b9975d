"""Scale-out: one box (SQLite vs Redis) and 1 vs 2 workers on one Redis, side by side.

    .venv/bin/python benchmarks/scale.py [--requests 80] [--concurrency 8] [--work 0.5]
                                         [--seconds 5]

Needs ``redis-server`` on PATH. Every configuration serves ``benchmarks/scale_app.py``
(``bench/work``: ``--work`` seconds of (simulated GPU) work per call, one call per runner,
one GPU per runner, at most 4 runners), behind one gateway on loopback:

- ``serve, SQLite``: ``openfal serve`` (the embedded default), 4 runners;
- ``serve, Redis``: the same process on a Redis store, 4 runners;
- ``gateway + 1 worker``: ``openfal gateway`` and one ``openfal worker --gpus 0,1``
  (2 runners);
- ``gateway + 2 workers``: the same with a second worker ``--gpus 2,3`` (4 runners).

For each: submit→result latency (submit, follow the SSE status stream, fetch the result)
at a fixed concurrency, the completed requests per second of that run, and submits/s
from 16 clients that only submit (the workers keep running what they submit).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
APP_REF = f"{HERE / 'scale_app.py'}::Work"
APP = "bench/work"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: object, what: str, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {what}")


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def processes(cmds: list[list[str]], logs: Path) -> Iterator[None]:
    procs = []
    try:
        for i, cmd in enumerate(cmds):
            with open(logs / f"proc{i}.log", "ab") as log:
                procs.append(
                    subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=HERE.parent)
                )
            if "redis-server" in cmd[0]:
                port = int(cmd[cmd.index("--port") + 1])
                wait_until(lambda: _listening(port), "redis-server")  # noqa: B023
        yield
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()


def redis_cmd(port: int, folder: Path) -> list[str]:
    exe = shutil.which("redis-server")
    if exe is None:
        raise SystemExit("redis-server is not on PATH (apt-get install -y redis-server)")
    return [exe, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly",
            "no", "--dir", str(folder)]  # fmt: skip


def configurations(tmp: Path) -> Iterator[tuple[str, int, list[list[str]]]]:
    """(name, runners, commands); the gateway is always the last command's port."""
    py = [sys.executable, "-m", "openfal"]
    quiet = ["--log-level", "warning"]
    redis_port = free_port()
    redis = f"redis://127.0.0.1:{redis_port}/0"

    def serve(store: list[str], port: int, data: str) -> list[str]:
        return [*py, "serve", "--port", str(port), "--data-dir", str(tmp / data),
                "--no-builtins", "--app", APP_REF, *store, *quiet]  # fmt: skip

    def worker(gpus: str) -> list[str]:
        return [*py, "worker", "--store", redis, "--no-builtins", "--app", APP_REF,
                "--gpus", gpus, *quiet]  # fmt: skip

    def gateway(port: int) -> list[str]:
        return [*py, "gateway", "--store", redis, "--port", str(port),
                "--data-dir", str(tmp / f"g{port}"), *quiet]  # fmt: skip

    port = free_port()
    yield "serve, SQLite", port, [serve([], port, "sqlite")]
    port = free_port()
    yield "serve, Redis", port, [redis_cmd(redis_port, tmp), serve(["--store", redis], port, "r")]
    port = free_port()
    yield (
        "gateway + 1 worker (Redis)",
        port,
        [redis_cmd(redis_port, tmp), worker("0,1"), gateway(port)],
    )
    port = free_port()
    yield (
        "gateway + 2 workers (Redis)",
        port,
        [redis_cmd(redis_port, tmp), worker("0,1"), worker("2,3"), gateway(port)],
    )


async def submit_result(c: httpx.AsyncClient, base: str, work: float) -> None:
    sub = await c.post(f"{base}/queue/{APP}", json={"seconds": work})
    sub.raise_for_status()
    async with c.stream("GET", sub.json()["status_url"] + "/stream") as resp:
        async for _ in resp.aiter_lines():
            pass
    (await c.get(sub.json()["response_url"])).raise_for_status()


async def latencies(
    c: httpx.AsyncClient, base: str, n: int, conc: int, work: float
) -> tuple[list[float], float]:
    out: list[float] = []
    sem = asyncio.Semaphore(conc)

    async def one() -> None:
        async with sem:
            t = time.perf_counter()
            await submit_result(c, base, work)
            out.append(time.perf_counter() - t)

    t = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    return out, n / (time.perf_counter() - t)


async def submits_per_second(c: httpx.AsyncClient, base: str, seconds: float) -> float:
    count = 0
    stop = time.perf_counter() + seconds

    async def loop() -> None:
        nonlocal count
        while time.perf_counter() < stop:
            (await c.post(f"{base}/queue/{APP}", json={"seconds": 0})).raise_for_status()
            count += 1

    t = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(16)))
    return count / (time.perf_counter() - t)


def pct(xs: list[float], p: int) -> float:
    return statistics.quantiles(xs, n=100)[p - 1] * 1000


async def measure(
    base: str, runners: int, n: int, conc: int, work: float, seconds: float
) -> tuple[float, float, float, float]:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=120, limits=limits) as c:
        wait_until(
            lambda: APP in [a["app_id"] for a in httpx.get(f"{base}/rest/apps").json()],
            "the app registration",
        )
        # warm up until every runner the configuration allows is up
        await asyncio.gather(*(submit_result(c, base, work) for _ in range(2 * runners)))
        wait_until(
            lambda: (
                sum(r["state"] == "READY" for r in httpx.get(f"{base}/rest/runners").json())
                >= runners
            ),
            f"{runners} runners",
        )
        xs, done_per_s = await latencies(c, base, n, conc, work)
        subs = await submits_per_second(c, base, seconds)
    return pct(xs, 50), pct(xs, 99), done_per_s, subs


async def main(n: int, conc: int, work: float, seconds: float) -> None:
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for name, port, cmds in configurations(tmp):
            base = f"http://127.0.0.1:{port}"
            runners = 2 if "1 worker" in name else 4
            with processes(cmds, tmp):
                wait_until(lambda: httpx.get(f"{base}/health").status_code == 200, name)  # noqa: B023
                measured = await measure(base, runners, n, conc, work, seconds)
                rows.append((name, runners, *measured))
            print(f"done: {name}", file=sys.stderr)
    print(
        f"# openfal scale-out — {platform.node()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; {n} requests of {work * 1000:g} ms work at "
        f"concurrency {conc}; submits/s from 16 clients over {seconds:g} s"
    )
    print("| configuration | runners | submit→result p50 ms | p99 ms | completed/s | submits/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, runners, p50, p99, done, subs in rows:
        print(f"| {name} | {runners} | {p50:.1f} | {p99:.1f} | {done:.1f} | {subs:.0f} |")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=80)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--work", type=float, default=0.5, help="seconds of work per call")
    ap.add_argument("--seconds", type=float, default=5.0)
    a = ap.parse_args()
    asyncio.run(main(a.requests, a.concurrency, a.work, a.seconds))
