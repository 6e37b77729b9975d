"""Every README example that talks to `make serve` runs as written: the test starts
``openfal serve`` with the options ``make serve`` uses (the built-in apps and examples/),
runs each console block's commands (and the scripts it shows) in order, and checks that each
command succeeds and answers what the README shows (HTTP statuses, JSON keys; ids, times
and sizes differ from run to run). Blocks that start their own servers (many machines,
keys and limits) show other setups; the tests of those setups cover them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.docs import readme
from tests.e2e.harness import free_port, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where a reader runs the commands: a photo of their own, and `make serve`'s data dir."""
    from PIL import Image

    path = tmp_path_factory.mktemp("reader")
    Image.new("RGB", (96, 64), (200, 120, 40)).save(path / "photo.png")
    return path


@pytest.fixture(scope="module")
def server(workdir: Path) -> Iterator[str]:
    port = free_port()
    command = [
        sys.executable, "-m", "openfal", "serve", "--port", str(port),
        "--data-dir", str(workdir / ".openfal"), *readme.serve_args(),
    ]  # fmt: skip
    with open(workdir / "serve.log", "wb") as log:
        proc = subprocess.Popen(command, cwd=readme.ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert proc.poll() is None, (workdir / "serve.log").read_text()[-3000:]
        try:
            return httpx.get(f"{url}/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(healthy, 120, what="openfal serve")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


BLOCKS = readme.blocks()


def test_the_readme_has_examples_against_make_serve() -> None:
    assert len(BLOCKS) >= 10


@pytest.mark.timeout(900)
@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{b.number}" for b in BLOCKS])
def test_readme_block_runs_as_written(block: readme.Block, server: str, workdir: Path) -> None:
    os.environ.setdefault("FAL_KEY", "local")
    outputs = readme.run(block, server, workdir)
    problems = {
        command.line: found
        for command, output in zip(block.commands, outputs, strict=True)
        if (found := readme.mismatches(command, output))
    }
    assert problems == {}
