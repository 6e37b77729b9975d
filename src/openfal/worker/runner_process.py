"""One runner process: spawn, wait until healthy, watch, stop."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import signal
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from openfal.errors import OpenfalError
from openfal.metrics import cold_start
from openfal.worker.link import RunnerLink

log = logging.getLogger("openfal.worker")


class RunnerState(str, enum.Enum):
    STARTING = "STARTING"
    READY = "READY"
    STOPPING = "STOPPING"
    DEAD = "DEAD"


class RunnerStartError(OpenfalError, RuntimeError):
    """The runner exited or timed out before its first healthy answer."""


def _die_with_parent() -> None:
    """In the child before exec: a runner must not outlive a worker killed with -9."""
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(eq=False)
class RunnerProcess:
    """A runner for ``app_ref`` listening on ``host:port`` (127.0.0.1 unless the worker
    lets gateways on other machines reach its runners)."""

    app_id: str
    app_ref: str
    env: dict[str, str] = field(default_factory=dict)
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    host: str = "127.0.0.1"  # the address it binds
    port: int = 0
    advertise_host: str | None = None  # the address others reach it at (default: host)
    gpus: list[str] = field(default_factory=list)
    state: RunnerState = RunnerState.STARTING
    in_flight: int = 0
    hints: list[str] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    last_used: float = field(default_factory=time.monotonic)
    exit_code: int | None = None
    python: str = sys.executable  # a deployed app's own environment, or the worker's
    # given: the process's output goes through it, line by line (else it is inherited)
    on_output: Callable[[RunnerProcess, str, str], None] | None = None
    link: RunnerLink | None = None  # the framed connection requests travel on
    link_path: str = ""  # its Unix socket ("": requests go over HTTP)
    _proc: asyncio.subprocess.Process | None = None
    _exited: asyncio.Event = field(default_factory=asyncio.Event)
    _watcher: asyncio.Task[None] | None = None
    _readers: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def url(self) -> str:
        """Where this worker reaches it."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
        return f"http://{_bracket(host)}:{self.port}"

    @property
    def public_url(self) -> str:
        """Where gateways on other machines reach it (the realtime relay)."""
        if not self.advertise_host:
            return self.url
        return f"http://{_bracket(self.advertise_host)}:{self.port}"

    @property
    def alive(self) -> bool:
        return self.state in (RunnerState.STARTING, RunnerState.READY)

    async def start(self, http: httpx.AsyncClient, startup_timeout: float) -> None:
        """Spawn the process and return once ``/health`` answers 200."""
        self.port = self.port or free_port(self.host)
        self.link_path = self.link_path or _link_path(self.id)
        spawned = time.monotonic()
        env = {**os.environ, **self.env, "OPENFAL_RUNNER_ID": self.id, "PYTHONUNBUFFERED": "1"}
        piped = asyncio.subprocess.PIPE if self.on_output is not None else None
        self._proc = await asyncio.create_subprocess_exec(
            self.python,
            "-m",
            "openfal.runner",
            self.app_ref,
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--link",
            self.link_path,
            env=env,
            stdout=piped,
            stderr=piped,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        log.info(
            "runner %s for %s starting (pid %s, port %s)",
            self.id,
            self.app_id,
            self._proc.pid,
            self.port,
        )
        self._watcher = asyncio.create_task(self._watch())
        if self.on_output is not None:
            self._readers = [
                asyncio.create_task(self._read(self._proc.stdout, "stdout")),
                asyncio.create_task(self._read(self._proc.stderr, "stderr")),
            ]
        try:
            await asyncio.wait_for(self._wait_healthy(http), startup_timeout)
        except TimeoutError:
            await self.kill()
            raise RunnerStartError(
                f"runner for {self.app_id} was not healthy within {startup_timeout:g}s"
            ) from None
        if not self.alive:
            raise RunnerStartError(
                f"runner for {self.app_id} exited during setup (exit code {self.exit_code})"
            )
        await self._connect_link()
        self.state = RunnerState.READY
        self.last_used = time.monotonic()
        cold_start(self.app_id, self.last_used - spawned)
        log.info("runner %s for %s ready", self.id, self.app_id)

    async def _connect_link(self) -> None:
        try:
            self.link = await RunnerLink.connect(self.link_path)
        except OSError as e:  # requests go over HTTP instead
            log.warning("runner %s: no link at %s (%s); using HTTP", self.id, self.link_path, e)

    async def _wait_healthy(self, http: httpx.AsyncClient) -> None:
        delay = 0.02
        while self.alive:
            with contextlib.suppress(httpx.HTTPError):
                r = await http.get(f"{self.url}/health", timeout=5.0)
                if r.status_code == 200:
                    self.hints = list(r.json().get("hints") or [])
                    return
            exited = asyncio.ensure_future(self._exited.wait())
            await asyncio.wait([exited], timeout=delay)
            exited.cancel()
            delay = min(delay * 1.5, 0.25)

    async def _read(self, stream: asyncio.StreamReader | None, name: str) -> None:
        assert stream is not None and self.on_output is not None
        while True:
            try:
                line = await stream.readline()
            except ValueError:  # a line longer than the buffer: take it in pieces
                line = await stream.read(64 * 1024)
            if not line:
                return
            self.on_output(self, name, line.decode(errors="replace").rstrip("\n"))

    async def _watch(self) -> None:
        assert self._proc is not None
        self.exit_code = await self._proc.wait()
        if self._readers:  # the last lines (a child that kept the pipe open: not forever)
            await asyncio.wait(self._readers, timeout=2.0)
        if self.state is not RunnerState.STOPPING:
            log.warning(
                "runner %s for %s exited with code %s", self.id, self.app_id, self.exit_code
            )
        self.state = RunnerState.DEAD
        if self.link is not None:
            await self.link.close()
        with contextlib.suppress(OSError):
            os.unlink(self.link_path)
        self._exited.set()

    async def wait_exited(self) -> None:
        await self._exited.wait()

    async def stop(self, grace: float = 5.0) -> None:
        """SIGTERM (teardown runs), then SIGKILL after ``grace`` seconds."""
        if self._proc is None or self._exited.is_set():
            self.state = RunnerState.DEAD
            return
        self.state = RunnerState.STOPPING
        self._signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self._exited.wait(), grace)
        except TimeoutError:
            await self.kill()

    async def kill(self) -> None:
        if self._proc is None or self._exited.is_set():
            return
        if self.state is not RunnerState.DEAD:
            self.state = RunnerState.STOPPING
        self._signal(signal.SIGKILL)
        await self._exited.wait()

    def _signal(self, sig: signal.Signals) -> None:
        assert self._proc is not None
        # The runner leads its own session: signal the group so the app's children go too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)


def _link_path(runner_id: str) -> str:
    """A Unix socket path short enough for the platform (108 bytes on Linux)."""
    return os.path.join(tempfile.gettempdir(), f"openfal-{os.getpid()}-{runner_id}.sock")


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host
