"""What deploying costs: environment builds, cached re-deploys, and the layering choice.

    .venv/bin/python benchmarks/deploy.py

Starts ``openfal serve`` on a fresh data dir and deploys ``tests/fixtures/apps/figlet.py``
(``requirements = ["pyfiglet==1.0.4"]``), timing each ``openfal deploy`` from the call to
"serving". Then builds two environments by hand for the same requirements, to compare the
layered environment openfal builds (a venv + a ``.pth`` onto the worker's environment +
the app's requirements) with a self-contained one (the app's requirements plus openfal's own
dependencies installed into it), in seconds and disk.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.harness import FIXTURES, Serve  # noqa: E402

from openfal.deploy.envs import find_uv, layer_paths  # noqa: E402

APP = "bench/figlet"
OPENFAL_DEPS = [
    "fastapi>=0.110",
    "uvicorn[standard]>=0.30",
    "httpx>=0.27",
    "httpx-sse>=0.4",
    "pydantic>=2.6",
    "msgpack>=1.0",
    "websockets>=12",
    "rich>=13",
    "cryptography>=42",
    "python-multipart>=0.0.18",
    "pyjwt>=2.8",
]


def deploy(url: str, source: Path, *extra: str) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "openfal",
            "deploy",
            f"{source}::Figlet",
            "--app-name",
            APP,
            "--url",
            url,
            "--json",
            *extra,
        ],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - t0


def copy(tmp: Path, revision: str) -> Path:
    folder = tmp / revision
    folder.mkdir()
    text = (FIXTURES / "figlet.py").read_text().replace('"figlet-1"', f'"{revision}"')
    (folder / "figlet.py").write_text(text)
    return folder / "figlet.py"


def call(url: str) -> None:
    import httpx

    httpx.post(f"{url}/{APP}", json={"text": "x"}, timeout=120).raise_for_status()


def build(dest: Path, requirements: list[str], layered: bool) -> tuple[float, int]:
    uv = find_uv()
    t0 = time.perf_counter()
    subprocess.run(
        [uv, "venv", str(dest), "--python", sys.executable], check=True, capture_output=True
    )
    if layered:
        site = next(dest.glob("lib/python*/site-packages"))
        (site / "_layer.pth").write_text("\n".join(layer_paths()) + "\n")
    subprocess.run(
        [uv, "pip", "install", "--python", str(dest / "bin" / "python"), *requirements],
        check=True,
        capture_output=True,
    )
    seconds = time.perf_counter() - t0
    size = sum(f.stat().st_size for f in dest.rglob("*") if f.is_file() and not f.is_symlink())
    return seconds, size


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        s = Serve(tmp / "data", []).start()
        try:
            rows = [
                ("first deploy (environment built, uv cache warm)", deploy(s.url, copy(tmp, "r1")))
            ]
            rows.append(
                ("re-deploy, same requirements, app scaled to zero", deploy(s.url, copy(tmp, "r2")))
            )
            call(s.url)  # a runner of r2 is READY now
            rows.append(
                (
                    "re-deploy, same requirements, rolling over a warm runner",
                    deploy(s.url, copy(tmp, "r3")),
                )
            )
            call(s.url)
            rows.append(
                (
                    "re-deploy, recreate over a warm runner",
                    deploy(s.url, copy(tmp, "r4"), "--strategy", "recreate"),
                )
            )
        finally:
            s.stop()
        print("| deploy | seconds |\n|---|---:|")
        for name, seconds in rows:
            print(f"| {name} | {seconds:.2f} |")
        print()
        print("| environment for pyfiglet | build s | disk MB |\n|---|---:|---:|")
        for name, layered, reqs in [
            (
                "layered on the worker's environment (what openfal builds)",
                True,
                ["pyfiglet==1.0.4"],
            ),
            (
                "self-contained: openfal's dependencies + pyfiglet",
                False,
                ["pyfiglet==1.0.4", *OPENFAL_DEPS],
            ),
        ]:
            dest = tmp / f"env-{layered}"
            seconds, size = build(dest, reqs, layered)
            print(f"| {name} | {seconds:.2f} | {size / 1e6:.1f} |")
            shutil.rmtree(dest)


if __name__ == "__main__":
    main()
