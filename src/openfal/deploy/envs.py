"""Per-app virtual environments on a worker host, built with uv and cached by key.

An environment is ``ROOT/KEY``: a venv of the worker's own Python holding the app's
requirements, *layered* on the worker's environment by a ``.pth`` file: openfal's runner,
its web stack and anything heavy already installed there (torch) are visible to the app
without a second copy, while the app's own requirements come first on ``sys.path`` and
win over the layer's versions. ``KEY/.ready`` marks a finished build; a build that died
half-way is started over. Builds of one key are serialised on the host by a file lock,
so two workers sharing ROOT build it once; apps with the same requirements share it.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import shutil
import sys
import sysconfig
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO

import openfal
from openfal.errors import OpenfalError

Log = Callable[[str], Awaitable[None]]

LAYER_FILE = "_openfal_layer.pth"


class BuildError(OpenfalError):
    """The environment could not be built; the message ends with the installer's output."""


def find_uv() -> str:
    """The ``uv`` next to this interpreter (``pip install 'openfal[deploy]'``), else on PATH."""
    here = Path(sys.executable).parent / "uv"
    if here.exists():
        return str(here)
    found = shutil.which("uv")
    if found is None:
        raise BuildError("uv is not installed on this worker host: pip install 'openfal[deploy]'")
    return found


def layer_paths() -> list[str]:
    """The worker environment's package folders, seen by every app environment: the folder
    this openfal was imported from (a source checkout or an editable install), then the
    worker's site-packages."""
    paths = sysconfig.get_paths()
    here = str(Path(openfal.__file__).resolve().parent.parent)
    return list(dict.fromkeys([here, paths["purelib"], paths["platlib"]]))


def layer_file_text() -> str:
    """The ``.pth`` that layers an app environment on the worker's. ``site.addsitedir``
    (not a plain path line) also reads the ``.pth`` files found there, so an editable
    install of openfal in the worker's environment is seen too; the folders go after the
    environment's own, so the app's requirements win."""
    return "".join(f"import site; site.addsitedir({p!r})\n" for p in layer_paths())


class Environments:
    """The environments of one host under ``root``."""

    def __init__(self, root: Path, uv: str | None = None) -> None:
        self.root = root
        self.uv = uv
        self._locks: dict[str, asyncio.Lock] = {}

    def python(self, key: str) -> str:
        if not key:
            return sys.executable
        return str(self.root / key / "bin" / "python")

    def ready(self, key: str) -> bool:
        return not key or (self.root / key / ".ready").exists()

    async def ensure(
        self, key: str, requirements: list[str], python_version: str | None, log: Log
    ) -> str:
        """The interpreter of environment ``key``, built first if needed."""
        if not key:
            return sys.executable
        if self.ready(key):
            await log(f"environment {key}: cached")
            return self.python(key)
        async with self._locks.setdefault(key, asyncio.Lock()):
            self.root.mkdir(parents=True, exist_ok=True)
            lock = await asyncio.to_thread(_flock, self.root / f"{key}.lock")
            try:
                if not self.ready(key):
                    await self._build(key, requirements, python_version, log)
                else:
                    await log(f"environment {key}: built by another worker")
            finally:
                lock.close()
        return self.python(key)

    async def _build(
        self, key: str, requirements: list[str], python_version: str | None, log: Log
    ) -> None:
        here = f"{sys.version_info.major}.{sys.version_info.minor}"
        if python_version and python_version.strip() != here:
            raise BuildError(
                f"python_version {python_version} is not available: this worker runs Python "
                f"{here} (per-app environments layer on the worker's own interpreter)"
            )
        dest = self.root / key
        shutil.rmtree(dest, ignore_errors=True)  # a build that died half-way
        uv = self.uv or find_uv()
        await log(f"environment {key}: building ({', '.join(requirements)})")
        try:
            await self._install(uv, dest, requirements, log)
        except BaseException:
            shutil.rmtree(dest, ignore_errors=True)  # nothing half-built stays behind
            raise
        await log(f"environment {key}: ready")

    async def _install(self, uv: str, dest: Path, requirements: list[str], log: Log) -> None:
        await _run([uv, "venv", str(dest), "--python", sys.executable], log)
        site = _site_packages(dest)
        (site / LAYER_FILE).write_text(layer_file_text())
        await _run(
            [uv, "pip", "install", "--python", str(dest / "bin" / "python"), *requirements], log
        )
        (dest / ".ready").write_text(" ".join(requirements) + "\n")


def _site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python*/site-packages"))
    if not found:
        raise BuildError(f"{venv}: uv made no site-packages folder")
    return found[0]


def _flock(path: Path) -> IO[str]:
    f = open(path, "w")  # noqa: SIM115 - held until the build ends
    fcntl.flock(f, fcntl.LOCK_EX)
    return f


async def _run(cmd: list[str], log: Log) -> None:
    """Run an installer command, streaming its output; BuildError with its tail on failure."""
    env = {**os.environ, "NO_COLOR": "1", "UV_NO_PROGRESS": "1"}
    env.pop("VIRTUAL_ENV", None)
    proc = await asyncio.create_subprocess_exec(
        *cmd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL,
        env=env,
    )
    assert proc.stdout is not None
    tail: list[str] = []
    while line := await proc.stdout.readline():
        text = line.decode(errors="replace").rstrip()
        tail = [*tail[-30:], text]
        await log(text)
    code = await proc.wait()
    if code != 0:
        name = Path(cmd[0]).name
        output = "\n".join(t for t in tail if t.strip())
        raise BuildError(f"{name} {cmd[1]} {cmd[2]} failed (exit {code}):\n{output}")
