"""Which built-in apps ``openfal serve`` registers, under fal's ids, without loading torch."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from openfal import apps
from tests.e2e.harness import Serve, wait_for

FAL_ENDPOINTS = {
    "openfal/echo": [""],
    "fal-ai/flux": ["dev", "schnell"],
    "fal-ai/fast-sdxl": ["", "image-to-image"],
    "fal-ai/lcm-sd15-i2i": ["", "realtime"],
    "fal-ai/ltx-video": [""],
    "fal-ai/whisper": [""],
    "fal-ai/any-llm": [""],
}


def test_loading_every_builtin_app_imports_no_ml_library() -> None:
    script = textwrap.dedent(
        """
        import json, sys
        from openfal.server import BUILTIN_APPS, app_record
        ids = {}
        for ref in BUILTIN_APPS:
            record, _ = app_record(ref)
            ids[record.app_id] = sorted(record.endpoints)
        heavy = [m for m in ("torch", "diffusers", "transformers", "faster_whisper", "av")
                 if m in sys.modules]
        print(json.dumps({"ids": ids, "heavy": heavy}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["heavy"] == []
    assert found["ids"] == {app: sorted(paths) for app, paths in FAL_ENDPOINTS.items()}


def test_missing_modules_names_what_is_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    ref = "openfal.apps.ltx_video:LTXVideo"
    assert apps.missing_modules(ref) == []
    needs = (*apps.BUILTIN_APPS[ref], "openfal_no_such_codec")
    monkeypatch.setitem(apps.BUILTIN_APPS, ref, needs)
    assert apps.missing_modules(ref) == ["openfal_no_such_codec"]
    assert apps.missing_modules("openfal.apps.echo:Echo") == []


def test_serve_skips_an_app_whose_modules_are_missing(tmp_path: Path) -> None:
    shim = tmp_path / "shim"
    shim.mkdir()
    # Runs at interpreter start in the serve process: the video app now needs a module
    # that is not installed, as on a machine without the apps extra.
    (shim / "sitecustomize.py").write_text(
        "from openfal import apps\n"
        "ref = 'openfal.apps.ltx_video:LTXVideo'\n"
        "apps.BUILTIN_APPS[ref] = (*apps.BUILTIN_APPS[ref], 'openfal_no_such_codec')\n"
    )
    src = Path(apps.__file__).resolve().parents[2]
    server = Serve(tmp_path / "data", [], builtins=True, env={"PYTHONPATH": f"{shim}:{src}"})
    server.start()
    try:
        listed = wait_for(
            lambda: httpx.get(f"{server.url}/rest/apps", timeout=10).json(), 30, what="apps"
        )
        registered = {app["app_id"] for app in listed}
        assert registered == set(FAL_ENDPOINTS) - {"fal-ai/ltx-video"}
        assert (
            "built-in app openfal.apps.ltx_video:LTXVideo skipped: openfal_no_such_codec not "
            "installed (pip install 'openfal[apps]')" in server.logs()
        )
    finally:
        server.stop()


def test_serve_refuses_a_broken_apps_config(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "apps.toml").write_text('[weights]\nflux-pro = "/models/x"\n')
    done = subprocess.run(
        [sys.executable, "-m", "openfal", "serve", "--data-dir", str(data), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "unknown [weights] keys ['flux-pro']" in done.stderr
