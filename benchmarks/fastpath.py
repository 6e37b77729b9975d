"""The request path, measured like issue 14 asks: the server on one CPU, the load on another.

    .venv/bin/python benchmarks/fastpath.py [--calls 1000] [--seconds 5]
                                            [--stores sqlite,memory,redis]

Needs ``wrk`` and ``taskset`` (scripts/system-deps.sh) and, for the Redis rows,
``redis-server``. Every server process (uvicorn, ``openfal serve`` with its runners, Redis)
runs under ``taskset -c 0``; the load generators (this script, wrk) under ``taskset -c 1``.

Rows, each measured in this one run:
- the floor, a bare Starlette echo under uvicorn (``benchmarks/bare_starlette.py``), first
  and last;
- ``openfal serve`` on each store, serving the built-in ``openfal/echo``.

Columns: c=1 p50/p99 of ``--calls`` sequential direct calls (and p50 minus the floor's first
p50), c=16 req/s of direct calls (wrk, POST body from a Lua script), submit → SSE status
stream → result p50 at c=1, and submits/s at c=16 (wrk on ``POST /queue/openfal/echo``).
For Redis it also prints the command budget from ``INFO commandstats``: per direct run,
per queue round trip (100 each) and idle commands per second over 10 s.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
BODY = b'{"message": "hello"}'
LUA = 'wrk.method = "POST"\nwrk.body = \'{"message": "hello"}\'\n' + (
    'wrk.headers["Content-Type"] = "application/json"\n'
)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def process(
    cmd: list[str], ready: Callable[[], bool], src: str | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    env = {**os.environ, "PYTHONPATH": src} if src else None
    proc = subprocess.Popen(
        ["taskset", "-c", "0", *cmd],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=HERE.parent,
        start_new_session=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 90
        while not ready():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"{cmd} did not start")
            time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def answers(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return httpx.get(url, timeout=1).status_code < 500
        except httpx.HTTPError:
            return False

    return check


def pct(xs: list[float], p: int) -> float:
    return statistics.quantiles(xs, n=100)[p - 1] * 1000


def sequential(c: httpx.Client, url: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        r = c.post(url, content=BODY, headers={"content-type": "application/json"})
        out.append(time.perf_counter() - t)
        r.raise_for_status()
    return out


def queue_round_trips(c: httpx.Client, base: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        sub = c.post(f"{base}/queue/openfal/echo", content=BODY).json()
        with c.stream("GET", sub["status_url"] + "/stream") as resp:
            for _ in resp.iter_lines():
                pass
        c.get(sub["response_url"]).raise_for_status()
        out.append(time.perf_counter() - t)
    return out


def wrk(url: str, seconds: float, script: Path) -> float:
    out = subprocess.run(
        ["taskset", "-c", "1", "wrk", "-t1", "-c16", f"-d{seconds:g}s", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"wrk saw errors:\n{out}")
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert found, out
    return float(found.group(1))


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def measure(base: str, direct: str, calls: int, seconds: float, lua: Path, queue: bool) -> dict:
    with httpx.Client(timeout=60) as c:
        sequential(c, direct, 100)  # warm up (runner started, connections open)
        lat = sequential(c, direct, calls)
        row = {"p50": pct(lat, 50), "p99": pct(lat, 99)}
        if queue:
            row["queue_p50"] = pct(queue_round_trips(c, base, min(calls, 300)), 50)
    row["rps"] = wrk(direct, seconds, lua)
    if queue:
        row["submits"] = wrk(f"{base}/queue/openfal/echo", seconds, lua)
    row["load"] = loadavg()
    return row


def floor(calls: int, seconds: float, lua: Path) -> dict:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "benchmarks.bare_starlette:app",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    with process(cmd, answers(url + "x")):
        return measure(url, url, calls, seconds, lua, queue=False)


def redis_ready(port: int) -> Callable[[], bool]:
    def check() -> bool:
        import redis

        try:
            return bool(redis.Redis(port=port).ping())
        except redis.RedisError:
            return False

    return check


def commandstats(client: Any) -> dict[str, int]:
    stats = client.info("commandstats")
    return {k.removeprefix("cmdstat_"): v["calls"] for k, v in stats.items() if k != "cmdstat_info"}


def budget(port: int, base: str, n: int = 100) -> dict[str, object]:
    import redis

    # one connection for every INFO, opened before the first: its handshake is not counted
    meter = redis.Redis(port=port, single_connection_client=True)
    meter.ping()

    def spent(before: dict[str, int]) -> dict[str, int]:
        after = commandstats(meter)
        return {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}

    with httpx.Client(timeout=60) as c:
        before = commandstats(meter)
        time.sleep(10)
        idle = spent(before)
        before = commandstats(meter)
        sequential(c, f"{base}/openfal/echo", n)
        direct = spent(before)
        before = commandstats(meter)
        queue_round_trips(c, base, n)
        queue = spent(before)
    meter.close()
    return {
        "idle_per_s": sum(idle.values()) / 10,
        "idle": idle,
        "direct": sum(direct.values()) / n,
        "direct_by": {k: v / n for k, v in sorted(direct.items(), key=lambda kv: -kv[1])},
        "queue": sum(queue.values()) / n,
        "queue_by": {k: v / n for k, v in sorted(queue.items(), key=lambda kv: -kv[1])},
    }


def serve(
    store: str, calls: int, seconds: float, lua: Path, data: Path, src: str | None = None
) -> dict:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [
        sys.executable,
        "-m",
        "openfal",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data / (f"{store}-before" if src else store)),
        "--log-level",
        "warning",
    ]
    with contextmanager_redis(store, data) as redis_port:
        if redis_port:
            cmd += ["--store", f"redis://127.0.0.1:{redis_port}/0"]
        elif store == "memory":
            cmd += ["--store", "memory://"]
        with process(cmd, answers(f"{base}/health"), src):
            spent = None
            if redis_port:  # first: later, the runs the wrk submits would still be running
                with httpx.Client(timeout=60) as c:
                    sequential(c, f"{base}/openfal/echo", 50)  # the runner is up
                spent = budget(redis_port, base)
            row = measure(base, f"{base}/openfal/echo", calls, seconds, lua, queue=True)
            if spent is not None:
                row["budget"] = spent
    return row


@contextmanager
def contextmanager_redis(store: str, data: Path) -> Iterator[int | None]:
    if store != "redis":
        yield None
        return
    exe = shutil.which("redis-server")
    if exe is None:
        raise SystemExit("redis-server is not on PATH (apt-get install -y redis-server)")
    port = free_port()
    cmd = [
        exe,
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(data),
    ]
    with process(cmd, redis_ready(port)):
        yield port


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--stores", default="sqlite,memory,redis")
    ap.add_argument(
        "--before",
        metavar="SRC",
        help="also measure openfal from this src folder (a checkout of an older commit)",
    )
    a = ap.parse_args()
    if shutil.which("wrk") is None or shutil.which("taskset") is None:
        raise SystemExit("needs wrk and taskset: scripts/system-deps.sh")
    os.sched_setaffinity(0, {1})  # the load generator's CPU
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE.parent
    ).stdout.strip()
    rows: list[tuple[str, dict]] = []
    with tempfile.TemporaryDirectory() as tmp:
        lua = Path(tmp) / "post.lua"
        lua.write_text(LUA)
        rows.append(("bare Starlette + uvicorn (first)", floor(a.calls, a.seconds, lua)))
        for store in a.stores.split(","):
            if a.before:
                row = serve(store, a.calls, a.seconds, lua, Path(tmp), a.before)
                rows.append((f"before: openfal serve ({store})", row))
            rows.append(
                (f"openfal serve ({store})", serve(store, a.calls, a.seconds, lua, Path(tmp)))
            )
        rows.append(("bare Starlette + uvicorn (last)", floor(a.calls, a.seconds, lua)))
    ref = rows[0][1]["p50"]
    floor_rps = min(rows[0][1]["rps"], rows[-1][1]["rps"])
    print(
        f"# fast path — commit {commit}, {os.cpu_count()} cores, Python "
        f"{sys.version.split()[0]}; server on CPU 0, load on CPU 1\n"
    )
    print(
        "| system | c=1 p50 ms | c=1 p99 ms | added p50 ms | c=16 req/s | % of floor "
        "| queue→SSE→result p50 ms | submits/s c=16 | load avg |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, r in rows:
        q = f"{r['queue_p50']:.2f}" if "queue_p50" in r else "—"
        s = f"{r['submits']:.0f}" if "submits" in r else "—"
        print(
            f"| {name} | {r['p50']:.2f} | {r['p99']:.2f} | {r['p50'] - ref:+.2f} | "
            f"{r['rps']:.0f} | {100 * r['rps'] / floor_rps:.0f} % | {q} | {s} | {r['load']} |"
        )
    for name, r in rows:
        if "budget" in r:
            b = r["budget"]
            print(
                f"\nRedis commands ({name}): {b['direct']:.1f} per direct run, "
                f"{b['queue']:.1f} per queue round trip, {b['idle_per_s']:.1f}/s idle"
            )
            print(f"  direct run: {fmt(b['direct_by'])}")
            print(f"  queue round trip: {fmt(b['queue_by'])}")
            print(f"  idle (10 s): {b['idle']}")


def fmt(d: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.1f}" for k, v in d.items())


if __name__ == "__main__":
    main()
