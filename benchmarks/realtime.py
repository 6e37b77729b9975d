"""Realtime round trips: through the gateway vs straight to the runner, side by side.

    .venv/bin/python benchmarks/realtime.py [--frames 200] [--rounds 3]

Starts ``openfal serve`` with a realtime echo app (``benchmarks/realtime_echo.py``), then
sends ``--frames`` small msgpack frames one at a time (send, wait for the answer) over a
websocket to ``ws://HOST/bench/echo/realtime`` (the gateway relays to the runner) and over
one straight to the runner's own port. Rounds alternate between the two paths. Prints
p50/p99 of the round trip of each path and the gateway/direct ratio.
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
from pathlib import Path

import httpx
import msgpack
import websockets

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_serve(port: int, data_dir: str) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "openfal",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        data_dir,
        "--no-builtins",
        "--log-level",
        "warning",
        "--app",
        f"{HERE / 'realtime_echo.py'}::RealtimeEcho",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("openfal serve did not start")


async def round_trips(url: str, frames: int, warmup: int = 20) -> list[float]:
    """Milliseconds of each send→answer, after ``warmup`` unmeasured ones."""
    times = []
    async with websockets.connect(url, max_size=None) as ws:
        for n in range(warmup + frames):
            frame = msgpack.packb({"n": n, "payload": "x" * 32}, use_bin_type=True)
            started = time.perf_counter()
            await ws.send(frame)
            answer = msgpack.unpackb(await ws.recv(), raw=False)
            elapsed = (time.perf_counter() - started) * 1000
            assert answer["n"] == n, answer
            if n >= warmup:
                times.append(elapsed)
    return times


def runner_url(base: str) -> str:
    """The base URL of the app's runner (one is started by the first gateway session)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready = [r for r in httpx.get(f"{base}/rest/runners").json() if r["state"] == "READY"]
        if ready:
            return str(ready[0]["url"])
        time.sleep(0.1)
    raise SystemExit("no runner became ready")


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(port: int, frames: int, rounds: int) -> dict[str, list[float]]:
    gateway = f"ws://127.0.0.1:{port}/bench/echo/realtime"
    results: dict[str, list[float]] = {"gateway": [], "direct": []}
    results["gateway"] += await round_trips(gateway, frames)  # also starts the runner
    direct = runner_url(f"http://127.0.0.1:{port}").replace("http", "ws", 1) + "/realtime"
    results["direct"] += await round_trips(direct, frames)
    for _ in range(rounds - 1):
        results["gateway"] += await round_trips(gateway, frames)
        results["direct"] += await round_trips(direct, frames)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=200, help="measured frames per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per path, alternating")
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        proc = start_serve(port, data_dir)
        try:
            results = asyncio.run(measure(port, args.frames, args.rounds))
        finally:
            proc.terminate()
            proc.wait(30)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE
    ).stdout.strip()
    print(
        f"commit {commit}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{args.rounds} x {args.frames} frames per path (32-byte payload, msgpack)"
    )
    print(f"{'path':<28}{'p50 ms':>9}{'p99 ms':>9}{'mean ms':>9}")
    direct_p50 = statistics.median(results["direct"])
    for name, label in (("direct", "straight to the runner"), ("gateway", "through the gateway")):
        values = results[name]
        print(
            f"{label:<28}{statistics.median(values):>9.3f}{p(values, 0.99):>9.3f}"
            f"{statistics.fmean(values):>9.3f}"
        )
    gateway_p50 = statistics.median(results["gateway"])
    print(
        f"gateway / direct: p50 {gateway_p50 / direct_p50:.2f}x, "
        f"p99 {p(results['gateway'], 0.99) / p(results['direct'], 0.99):.2f}x"
    )


if __name__ == "__main__":
    main()
