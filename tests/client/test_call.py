"""``openfal call`` as a user runs it: a subprocess against a real ``openfal serve``."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import openfal.client
from openfal.cli.call import build_input, file_urls, parse_value
from tests.e2e.harness import Serve, wait_for

pytestmark = pytest.mark.e2e


def call(server: Serve, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "openfal", "call", *args, "--url", server.url],
        capture_output=True,
        text=True,
        timeout=90,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "120"},
    )


def test_queue_call_shows_progress_and_logs_and_prints_the_result(server: Serve):
    p = call(server, "test/steps", "steps=3", "delay=0.05", "tag=cli")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == {"steps": 3, "tag": "cli"}
    lines = p.stderr.splitlines()
    assert lines[0].startswith("request ")
    for expected in ("running", "progress 3/3 step 3", "  step 1 of 3 cli", "completed"):
        assert expected in lines, p.stderr
    assert lines.index("  step 1 of 3 cli") < lines.index("  step 3 of 3 cli")


def test_logs_only(server: Serve):
    p = call(server, "test/steps", "--input", '{"steps": 2, "delay": 0, "tag": "L"}', "--logs")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == ["step 1 of 2 L", "step 2 of 2 L"]


def test_sync_run_with_a_path_and_an_input_file(server: Serve, tmp_path: Path):
    (tmp_path / "in.json").write_text('{"message": "shout"}')
    p = call(
        server, "openfal/echo", "--input", "@in.json", "--path", "/upper", "--sync", cwd=tmp_path
    )
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == {"message": "SHOUT"}


def test_validation_errors_name_the_fields(server: Serve):
    p = call(server, "test/steps", "steps=0", "delay=slow")
    assert p.returncode == 1
    assert "error 422" in p.stderr
    assert "steps: Input should be greater than or equal to 1" in p.stderr
    assert "delay: Input should be a valid number" in p.stderr


def test_uploads_at_files_and_downloads_outputs(server: Serve, tmp_path: Path):
    (tmp_path / "hello.txt").write_bytes(b"hello from a file")
    data_uri = "data:application/octet-stream;base64," + base64.b64encode(b"\x00\x01raw").decode()
    p = call(
        server,
        "test/file-output",
        "url=@hello.txt",
        f"urls={json.dumps([data_uri])}",
        "--out",
        "results",
        cwd=tmp_path,
    )
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["count"] == 2
    assert out["files"][0]["url"].startswith(f"{server.url}/files/")
    assert (tmp_path / "results" / "hello.txt").read_bytes() == b"hello from a file"
    assert (tmp_path / "results" / "file-2.bin").read_bytes() == b"\x00\x01raw"
    assert "saved results/hello.txt (17 bytes)" in p.stderr


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_cancels_the_request(server: Serve):
    cmd = [sys.executable, "-m", "openfal", "call", "test/sleeper/progress", "seconds=60"]
    proc = subprocess.Popen(
        [*cmd, "--url", server.url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # as a terminal would start it: a suite run as a background job (`cmd &`) ignores
        # SIGINT, and a child inherits that, so Ctrl-C would never reach it
        preexec_fn=_sigint_default,
    )
    assert proc.stderr is not None
    first = proc.stderr.readline()
    assert first.startswith("request "), first
    request_id = first.split()[1]
    status_url = f"{server.url}/queue/test/sleeper/requests/{request_id}/status"
    wait_for(
        lambda: httpx.get(status_url).json()["status"] == "IN_PROGRESS", 60, what="it to start"
    )
    proc.send_signal(signal.SIGINT)
    _, rest = proc.communicate(timeout=60)
    assert proc.returncode == 130, rest
    assert f"cancelled request {request_id}" in rest
    final = wait_for(lambda: (s := httpx.get(status_url).json())["status"] == "COMPLETED" and s, 30)
    assert final["error_type"] == "client_cancelled"


def test_input_parsing():
    client = openfal.client.SyncClient(base_url="http://unused.test")
    assert parse_value("3") == 3 and parse_value("true") is True and parse_value("hi") == "hi"
    got = build_input('{"a": 1, "b": 2}', ["b=[1, 2]", "c=text", 'd="7"'], client)
    assert got == {"a": 1, "b": [1, 2], "c": "text", "d": "7"}
    with pytest.raises(SystemExit, match="KEY=VALUE"):
        build_input(None, ["novalue"], client)
    with pytest.raises(SystemExit, match="JSON object"):
        build_input("[1]", [], client)
    nested = {"images": [{"url": "http://x/a.png"}, {"url": "ftp://no"}], "f": {"url": "data:,x"}}
    assert list(file_urls(nested)) == [("http://x/a.png", None), ("data:,x", None)]
