"""The real runner process: `python -m openfal.runner APP_REF --port N`."""

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from .helpers import FIXTURES

Start = Callable[..., "Runner"]


class Runner:
    """One runner process, its port and its captured output."""

    def __init__(self, ref: str, tmp_path: Path, env: dict[str, str] | None = None) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.stdout = tmp_path / f"runner-{self.port}.out"
        self.stderr = tmp_path / f"runner-{self.port}.err"
        command = [sys.executable, "-m", "openfal.runner", ref, "--port", str(self.port)]
        with self.stdout.open("wb") as out, self.stderr.open("wb") as err:
            self.process = subprocess.Popen(
                command, stdout=out, stderr=err, env={**os.environ, **(env or {})}
            )

    def wait_healthy(self, timeout: float = 60) -> httpx.Response:
        """Poll /health until it answers 200; fail if the process exits or time runs out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"runner exited with {self.process.returncode}: {self.err}")
            try:
                response = httpx.get(f"{self.url}/health", timeout=5)
            except httpx.TransportError:
                time.sleep(0.05)
                continue
            assert response.status_code == 200, response.text
            return response
        raise AssertionError("runner was not healthy in time")

    def wait_exit(self, timeout: float = 60) -> int:
        return self.process.wait(timeout=timeout)

    @property
    def err(self) -> str:
        return self.stderr.read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def start_runner(tmp_path: Path) -> Iterator[Start]:
    started: list[Runner] = []

    def start(ref: str, env: dict[str, str] | None = None) -> Runner:
        runner = Runner(ref, tmp_path, env)
        started.append(runner)
        return runner

    yield start
    for runner in started:
        runner.stop()


def test_serves_echo_in_both_modes(start_runner: Start) -> None:
    runner = start_runner(f"{FIXTURES / 'echo.py'}::Echo")
    assert runner.wait_healthy().json()["in_flight"] == 0
    plain = httpx.post(f"{runner.url}/", json={"message": "ab", "repeat": 2}, timeout=30)
    assert (plain.status_code, plain.json()) == (200, {"message": "abab"})
    streamed = httpx.post(
        f"{runner.url}/upper",
        json={"message": "ab"},
        headers={"x-openfal-events": "ndjson", "x-fal-request-id": "p-1"},
        timeout=30,
    )
    [result] = [json.loads(line) for line in streamed.text.splitlines()]
    assert result["body"] == {"message": "AB"}
    assert streamed.headers["x-fal-request-id"] == "p-1"


def test_setup_runs_before_the_port_accepts_connections(start_runner: Start) -> None:
    runner = start_runner(str(FIXTURES / "slow_setup.py"), {"SLOW_SETUP_SECONDS": "1"})
    runner.wait_healthy()  # asserts that no answer before it was anything but 200
    response = httpx.post(f"{runner.url}/", json={}, timeout=30)
    assert response.json() == {"ready": True}


def test_setup_failure_prints_traceback_and_exits_3(start_runner: Start) -> None:
    runner = start_runner(f"{FIXTURES / 'fails_setup.py'}::FailsSetup")
    assert runner.wait_exit() == 3
    assert "Traceback" in runner.err
    assert "RuntimeError: setup failed on purpose" in runner.err


def test_unloadable_app_exits_3(start_runner: Start) -> None:
    runner = start_runner(f"{FIXTURES / 'echo.py'}::NoSuchClass")
    assert runner.wait_exit() == 3
    assert "has no attribute 'NoSuchClass'" in runner.err


def test_process_exit_mid_request_breaks_the_stream(start_runner: Start) -> None:
    runner = start_runner(f"{FIXTURES / 'crash_in_call.py'}::CrashInCall")
    runner.wait_healthy()
    with pytest.raises(httpx.TransportError):
        httpx.post(
            f"{runner.url}/exit", json={}, headers={"x-openfal-events": "ndjson"}, timeout=30
        ).raise_for_status()
    assert runner.wait_exit() == 1


def test_help_shows_an_example() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "openfal.runner", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "APP_REF" in result.stdout
    assert "example:" in result.stdout
