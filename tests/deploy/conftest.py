from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import FIXTURES, Serve


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Serve]]:
    """``openfal serve`` processes (no built-in apps), stopped after the test."""
    started: list[Serve] = []

    def start(*apps: str, **kw: Any) -> Serve:
        s = Serve(tmp_path / f"data{len(started)}", list(apps), **kw)
        started.append(s)
        return s.start()

    yield start
    for s in started:
        s.stop()


def cli(
    *args: str, url: str, key: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """``openfal ARGS --url URL`` as a user types it."""
    env = {k: v for k, v in os.environ.items() if k not in ("FAL_KEY", "OPENFAL_URL")}
    if key:
        env["FAL_KEY"] = key
    done = subprocess.run(
        [sys.executable, "-m", "openfal", *args, "--url", url],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    if check:
        assert done.returncode == 0, f"{args}: {done.stdout}\n{done.stderr}"
    return done


def cli_json(*args: str, url: str, key: str | None = None) -> Any:
    return json.loads(cli(*args, "--json", url=url, key=key).stdout)


def app_copy(tmp_path: Path, name: str, **replace: str) -> Path:
    """A copy of fixture app ``name`` with module constants rewritten (a new revision)."""
    text = (FIXTURES / f"{name}.py").read_text()
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    folder = tmp_path / f"src-{len(list(tmp_path.glob('src-*')))}"
    folder.mkdir()
    path = folder / f"{name}.py"
    path.write_text(text)
    return path
