"""Upload throughput: a 200 MiB file into ``openfal serve`` vs a plain file copy, side by side.

    .venv/bin/python benchmarks/upload.py [--mib 200] [--rounds 3]

Uploads one file through the official ``fal_client`` (the CDN multipart path it takes for
files over 100 MiB, and its storage-initiate fallback, a single PUT) and through ``httpx``
(a streamed PUT to a signed upload URL), into a server whose data dir is on the same disk
as the source file. Compares each with ``shutil.copyfile`` of the same file on that disk,
with and without ``fsync`` (the server's local storage fsyncs every file it stores).
A bare uvicorn app that streams a PUT body to a file (``benchmarks/bare_upload.py``) shows
what HTTP on loopback costs before the platform does anything. Prints the best and median
MB/s (10^6 bytes/s) of each.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(cmd: list[str], url: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=HERE.parent,
        env={**os.environ, **env},
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


def write_source(path: Path, size: int) -> None:
    block = os.urandom(1024 * 1024)
    with open(path, "wb") as f:
        for offset in range(0, size, len(block)):
            f.write(block[: size - offset])
        f.flush()
        os.fsync(f.fileno())


def copy_plain(src: Path, dst: Path) -> None:
    shutil.copyfile(src, dst)


def copy_fsync(src: Path, dst: Path) -> None:
    shutil.copyfile(src, dst)
    with open(dst, "rb+") as f:
        os.fsync(f.fileno())


def point_fal_client(base: str) -> None:
    import fal_client.client as fc

    os.environ.setdefault("FAL_KEY", "benchmark")
    fc.RUN_URL_FORMAT, fc.QUEUE_URL_FORMAT = f"{base}/", f"{base}/queue/"
    fc.REST_URL, fc.CDN_URL = f"{base}/rest", f"{base}/cdn"


def fal_cdn(src: Path) -> str:
    import fal_client

    return str(fal_client.upload_file(src, repository="fal_v3", fallback_repository="fal_v3"))


def fal_storage(src: Path) -> str:
    import fal_client

    return str(fal_client.upload_file(src, repository="fal", fallback_repository="fal"))


def put_file(client: httpx.Client, url: str, src: Path) -> httpx.Response:
    """PUT ``src`` to ``url``, streamed from disk in 1 MiB chunks."""

    def chunks() -> Iterator[bytes]:
        with open(src, "rb") as f:
            while block := f.read(1024 * 1024):
                yield block

    headers = {"content-type": "application/octet-stream"}
    headers["content-length"] = str(src.stat().st_size)
    response = client.put(url, content=chunks(), headers=headers)
    response.raise_for_status()
    return response


def httpx_signed_put(base: str) -> Callable[[Path], str]:
    def upload(src: Path) -> str:
        with httpx.Client(timeout=120) as client:
            grant = client.post(
                f"{base}/rest/storage/upload/initiate?storage_type=fal-cdn-v3",
                json={"file_name": src.name, "content_type": "application/octet-stream"},
            ).json()
            put_file(client, grant["upload_url"], src)
            return str(grant["file_url"])

    return upload


def measure(rounds: int, size: int, once: Callable[[], None]) -> tuple[float, float]:
    rates = []
    for _ in range(rounds):
        started = time.perf_counter()
        once()
        rates.append(size / (time.perf_counter() - started) / 1e6)
    return max(rates), statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mib", type=int, default=200, help="file size in MiB (default 200)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    size = args.mib * 1024 * 1024
    with tempfile.TemporaryDirectory(dir=HERE.parent) as tmp:
        work = Path(tmp)
        src = work / "source.bin"
        write_source(src, size)
        port, bare_port = free_port(), free_port()
        base = f"http://127.0.0.1:{port}"
        serve = [sys.executable, "-m", "openfal", "serve", "--no-builtins", "--port", str(port)]
        serve += ["--data-dir", str(work / "data"), "--log-level", "warning"]
        server = start_server(serve, f"{base}/health", {})
        bare = [sys.executable, "-m", "uvicorn", "benchmarks.bare_upload:app", "--port"]
        bare += [str(bare_port), "--log-level", "warning"]
        (work / "bare").mkdir()
        bare_server = start_server(
            bare, f"http://127.0.0.1:{bare_port}/", {"BARE_UPLOAD_DIR": str(work / "bare")}
        )
        objects = work / "data" / "files" / "objects"
        point_fal_client(base)
        results: list[tuple[str, float, float]] = []
        try:
            for name, copy in (("shutil.copyfile", copy_plain), ("copyfile + fsync", copy_fsync)):
                dst = work / "copy.bin"

                def copy_once(copy: Callable[[Path, Path], None] = copy, dst: Path = dst) -> None:
                    copy(src, dst)
                    dst.unlink()

                results.append((name, *measure(args.rounds, size, copy_once)))

            def bare_once() -> None:
                with httpx.Client(timeout=120) as client:
                    put_file(client, f"http://127.0.0.1:{bare_port}/upload", src)

            results.append(("bare uvicorn PUT to a file", *measure(args.rounds, size, bare_once)))
            uploads: list[tuple[str, Callable[[Path], str]]] = [
                ("fal_client.upload_file, CDN multipart", fal_cdn),
                ("fal_client.upload_file, storage PUT", fal_storage),
                ("httpx streamed PUT to a signed URL", httpx_signed_put(base)),
            ]
            for name, upload in uploads:

                def upload_once(upload: Callable[[Path], str] = upload, name: str = name) -> None:
                    url = upload(src)
                    got = httpx.head(url).headers.get("content-length")
                    assert got == str(size), f"{name}: stored {got} bytes, not {size}"
                    key = url.split("/files/", 1)[1]
                    (objects / key).unlink()  # keep the disk free between rounds

                results.append((name, *measure(args.rounds, size, upload_once)))
        finally:
            for proc in (server, bare_server):
                proc.terminate()
                proc.wait(20)
    copy_best = results[0][1]
    machine = f"Python {platform.python_version()}, {os.cpu_count()} cores"
    print(f"{args.mib} MiB file, {args.rounds} rounds, {machine}")
    print(f"{'path':<42} {'best MB/s':>10} {'median MB/s':>12} {'best / copy':>12}")
    for name, best, median in results:
        print(f"{name:<42} {best:>10.0f} {median:>12.0f} {best / copy_best:>11.2f}x")


if __name__ == "__main__":
    main()
