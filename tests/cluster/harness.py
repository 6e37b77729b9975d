"""Drive real ``openfal gateway`` / ``openfal worker`` processes on one redis-server."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

from openfal.store import RequestRecord
from openfal.store.redis import RedisStore
from tests.e2e.harness import app_ref, free_port, wait_for
from tests.store.redis_server import RedisServer


class Proc:
    """One ``openfal gateway`` or ``openfal worker`` process, its output in a log file."""

    def __init__(self, kind: str, args: list[str], log_path: Path) -> None:
        self.kind, self.args, self.log_path = kind, args, log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, ready: str, timeout: float = 60.0) -> Proc:
        """Start it and wait until its log says ``ready``."""
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "openfal", self.kind, *self.args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        wait_for(lambda: self._says(ready), timeout, what=f"{self.kind} to be ready")
        return self

    def _says(self, text: str) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.kind} exited {self.proc.returncode}:\n{self.logs()}")
        return text in self.logs()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")[-8000:] if self.log_path.exists() else ""

    def terminate(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 60.0) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Gateway(Proc):
    def __init__(self, store_url: str, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        args = ["--store", store_url, "--port", str(self.port), "--data-dir", str(data_dir)]
        super().__init__("gateway", args, data_dir / "gateway.log")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready: str = "openfal gateway on", timeout: float = 60.0) -> Gateway:
        super().start(ready, timeout)
        wait_for(self._healthy, timeout, what=f"gateway on {self.url}")
        return self

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=2.0).status_code == 200
        except httpx.HTTPError:
            return False

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60.0)


class Worker(Proc):
    def __init__(self, store_url: str, log_path: Path, apps: Iterable[str], *args: str) -> None:
        argv = ["--store", store_url, "--no-builtins", *args]
        for app in apps:
            argv += ["--app", app_ref(app)]
        super().__init__("worker", argv, log_path)

    def start(self, ready: str = "openfal worker ", timeout: float = 60.0) -> Worker:
        super().start(ready, timeout)
        return self


class Cluster:
    """A redis-server plus the gateways and workers a test starts; all stopped at the end."""

    def __init__(self, root: Path, redis: RedisServer) -> None:
        self.root, self.redis = root, redis
        self.procs: list[Proc] = []

    def gateway(self) -> Gateway:
        g = Gateway(self.redis.url, self.root / f"gateway{len(self.procs)}")
        self.procs.append(g)
        return g.start()

    def worker(self, *apps: str, args: Iterable[str] = ()) -> Worker:
        w = Worker(self.redis.url, self.root / f"worker{len(self.procs)}.log", apps, *args)
        self.procs.append(w)
        return w.start()

    def stop(self) -> None:
        for p in reversed(self.procs):
            p.stop()

    def records(self, ids: list[str]) -> dict[str, RequestRecord]:
        """The store's records of ``ids`` (read directly, as a CLI would)."""

        async def read() -> dict[str, RequestRecord]:
            store = RedisStore(self.redis.url)
            await store.open()
            try:
                found = {i: await store.get(i) for i in ids}
                return {i: r for i, r in found.items() if r is not None}
            finally:
                await store.close()

        return asyncio.run(read())


def submit(c: httpx.Client, app_id: str, body: dict[str, Any]) -> str:
    r = c.post(f"/queue/{app_id}", json=body)
    assert r.status_code == 200, r.text
    request_id: str = r.json()["request_id"]
    return request_id


def status(c: httpx.Client, app_id: str, request_id: str) -> dict[str, Any]:
    r = c.get(f"/queue/{app_id}/requests/{request_id}/status")
    assert r.status_code in (200, 202), r.text
    body: dict[str, Any] = r.json()
    return body


def ledger(folder: Path) -> list[list[str]]:
    """The ledger's lines, split: ``[start|end, request_id, pid, gpu, active]``."""
    path = folder / "ledger"
    if not path.exists():
        return []
    return [line.split() for line in path.read_text().splitlines() if line.strip()]
