"""Start and stop a real ``redis-server`` for tests (no mocks, no fixed sleeps).

Usable from any test, including multi-process ones::

    with start_redis(tmp_path) as server:
        store = RedisStore(server.url)
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

REDIS_SERVER = "redis-server"
MISSING = (
    "redis-server is not on PATH: the Redis store tests need a real server. "
    "Install it with scripts/redis.sh install (apt-get install -y redis-server)."
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ping(port: int, timeout: float = 0.5) -> bool:
    """True when a Redis server on ``port`` answers PING (and is done loading data)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"PING\r\n")
            reply = b""
            while not reply.endswith(b"\r\n"):
                chunk = s.recv(256)
                if not chunk:
                    return False
                reply += chunk
            return reply == b"+PONG\r\n"  # "-LOADING ..." while an AOF is replayed
    except OSError:
        return False


class RedisServer:
    """One ``redis-server`` process on 127.0.0.1, its data in ``dir``.

    ``appendonly=True`` runs with ``--appendonly yes --appendfsync always``: every write
    is on disk before it is acknowledged, so a killed server loses nothing.
    """

    def __init__(self, dir: Path, *, port: int | None = None, appendonly: bool = False) -> None:
        self.dir = Path(dir)
        self.port = port or free_port()
        self.appendonly = appendonly
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def logfile(self) -> Path:
        return self.dir / "redis.log"

    def command(self) -> list[str]:
        durability = ["--appendonly", "no"]
        if self.appendonly:
            durability = ["--appendonly", "yes", "--appendfsync", "always"]
        return [
            REDIS_SERVER,
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--save",
            "",
            *durability,
            "--dir",
            str(self.dir),
            "--logfile",
            str(self.logfile),
            "--daemonize",
            "no",
        ]

    def start(self, timeout: float = 20.0) -> RedisServer:
        """Start the server and return once it answers PING (raise after ``timeout``)."""
        if self.proc is not None and self.proc.poll() is None:
            return self
        exe = shutil.which(REDIS_SERVER)
        if exe is None:
            raise RuntimeError(MISSING)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
        )
        deadline = time.monotonic() + timeout
        while not ping(self.port):
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"redis-server exited with {self.proc.returncode}: {self._log_tail()}"
                )
            if time.monotonic() > deadline:
                self.stop(kill=True)
                raise RuntimeError(
                    f"redis-server did not answer PING within {timeout}s: {self._log_tail()}"
                )
            time.sleep(0.01)  # poll interval, not a wait for readiness
        return self

    def stop(self, *, kill: bool = False, timeout: float = 20.0) -> None:
        """Stop the server: SIGTERM (a clean shutdown) or, with ``kill``, SIGKILL (a crash)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def restart(self, *, kill: bool = False, timeout: float = 20.0) -> RedisServer:
        """Stop, then start again on the same port and directory."""
        self.stop(kill=kill, timeout=timeout)
        return self.start(timeout)

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_redis(
    dir: Path, *, port: int | None = None, appendonly: bool = False, timeout: float = 20.0
) -> RedisServer:
    """Start a ``redis-server`` keeping its files in ``dir``; stop it with ``.stop()``.

    A port taken between choosing and binding it is retried on another port.
    """
    for attempt in range(5):
        server = RedisServer(dir, port=port, appendonly=appendonly)
        try:
            return server.start(timeout)
        except RuntimeError:
            if port is not None or attempt == 4 or shutil.which(REDIS_SERVER) is None:
                raise
    raise AssertionError("unreachable")
