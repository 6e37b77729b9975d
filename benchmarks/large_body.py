"""How long other clients wait while ``openfal serve`` takes a large JSON submit.

    .venv/bin/python benchmarks/large_body.py [--mib 8 32 63] [--shape objects string] [--rounds 3]

Starts ``openfal serve`` with the echo fixture app, then for each body size and shape:
one thread pings ``GET /health`` back to back (each ping on a kept-alive connection) while
the main thread submits the body to ``POST /queue/openfal/echo``. Prints the slowest ping
seen during the submit (the longest any other client waited), the p99 ping, and how long the
submit took. Shapes:

- ``objects``: many small objects (``{"i": n, "s": "...", "f": [1.5, 2.5]}``), the worst case
  for a JSON parser and for validation;
- ``string``: one long string (what a data URI input looks like), the common large body.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def body(mib: float, shape: str) -> bytes:
    target = int(mib * MIB)
    if shape == "string":
        filler = "A" * (target - 40)
        return json.dumps({"message": "x", "data": filler}).encode()
    item = json.dumps({"i": 123456, "s": "abcdefghij", "f": [1.5, 2.5]})
    count = target // (len(item) + 1)
    items = ",".join([item] * count)
    return ('{"message": "x", "items": [' + items + "]}").encode()


class Pinger(threading.Thread):
    """GET /health back to back; remembers how long each took."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url, self.times, self.stop = url, [], threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=60) as c:
            while not self.stop.is_set():
                t = time.perf_counter()
                c.get(self.url)
                self.times.append(time.perf_counter() - t)
                time.sleep(0.005)


def measure(base: str, data: bytes) -> tuple[float, float, float, int]:
    pinger = Pinger(f"{base}/health")
    pinger.start()
    time.sleep(0.3)  # a few pings before the submit
    before = len(pinger.times)
    with httpx.Client(timeout=120) as c:
        t = time.perf_counter()
        r = c.post(
            f"{base}/queue/openfal/echo", content=data, headers={"content-type": "application/json"}
        )
        took = time.perf_counter() - t
    time.sleep(0.3)  # and after: the worker hands the body to the runner then
    pinger.stop.set()
    pinger.join()
    during = sorted(pinger.times[before:])
    p99 = during[int(len(during) * 0.99) - 1] if during else float("nan")
    return max(during), p99, took, r.status_code


def start(port: int, data_dir: Path, extra: list[str]) -> subprocess.Popen[bytes]:
    cmd = [
        sys.executable,
        "-m",
        "openfal",
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--no-builtins",
        "--app",
        "tests/fixtures/apps/echo.py",
        *extra,
    ]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy()
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mib", type=float, nargs="+", default=[8, 32, 63])
    parser.add_argument("--shape", nargs="+", default=["objects", "string"])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve-arg", action="append", default=[], help="extra serve flag")
    args = parser.parse_args()
    print(f"# {platform.node()} python {platform.python_version()} cpus {os.cpu_count()}")
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        proc = start(port, Path(tmp), args.serve_arg)
        base = f"http://127.0.0.1:{port}"
        try:
            print("| shape | MiB | status | slowest /health ms | p99 /health ms | submit ms |")
            print("|---|---:|---:|---:|---:|---:|")
            for shape in args.shape:
                for mib in args.mib:
                    data = body(mib, shape)
                    runs = [measure(base, data) for _ in range(args.rounds)]
                    worst = max(r[0] for r in runs)
                    p99 = statistics.median(r[1] for r in runs)
                    took = statistics.median(r[2] for r in runs)
                    status = runs[-1][3]
                    print(
                        f"| {shape} | {len(data) / MIB:.1f} | {status} | {worst * 1000:.0f} "
                        f"| {p99 * 1000:.0f} | {took * 1000:.0f} |",
                        flush=True,
                    )
        finally:
            proc.terminate()
            proc.wait(30)


if __name__ == "__main__":
    main()
