"""Drive real ``openfal serve`` processes from tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "apps"
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(
    fn: Callable[[], T], timeout: float = 30.0, interval: float = 0.05, what: str = "condition"
) -> T:
    """Poll ``fn`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def app_ref(name: str) -> str:
    """``tests/fixtures/apps/<name>.py`` (the class is found automatically or after ::)."""
    file, _, cls = name.partition("::")
    return f"{FIXTURES / (file + '.py')}" + (f"::{cls}" if cls else "")


class Serve:
    """One ``openfal serve`` process with its own data dir and port."""

    def __init__(
        self,
        data_dir: Path,
        apps: list[str],
        *,
        args: list[str] | None = None,
        env: dict[str, str] | None = None,
        builtins: bool = False,
    ) -> None:
        self.data_dir = data_dir
        self.apps = apps
        self.args = args or []
        self.env = env or {}
        self.builtins = builtins
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir / "serve.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> Serve:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "openfal",
            "serve",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            *self.args,
        ]
        if not self.builtins:
            cmd.append("--no-builtins")
        for a in self.apps:
            cmd += ["--app", app_ref(a) if not a.startswith(("/", "openfal.")) else a]
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **self.env}
        )
        log.close()
        wait_for(self._healthy, timeout, what=f"openfal serve on {self.url} ({self.logs()})")
        return self

    def _healthy(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"openfal serve exited {self.proc.returncode}:\n{self.logs()}")
        try:
            return httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def client(self, **kw: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60.0, **kw)

    def create_key(self, user: str, *args: str) -> str:
        """``openfal keys create --user USER ARGS`` on this data dir; returns ``<id>:<secret>``."""
        command = [sys.executable, "-m", "openfal", "keys", "create", "--user", user, *args]
        done = subprocess.run(
            [*command, "--data-dir", str(self.data_dir)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("FAL_KEY="), done.stdout
        return done.stdout.strip().removeprefix("FAL_KEY=")
