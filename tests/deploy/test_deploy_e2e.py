"""Deploy to a running ``openfal serve``: an app with its own environment, called through
the official ``fal_client``; a failing build leaves the previous revision serving."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import fal_client
import pytest

from openfal.compat import restore, use_server

from .conftest import app_copy, cli, cli_json

pytestmark = pytest.mark.e2e

APP = "acme/figlet"


def test_a_deployed_app_gets_its_own_environment_and_a_failed_build_changes_nothing(
    serve, tmp_path: Path
) -> None:
    assert importlib.util.find_spec("pyfiglet") is None, "pyfiglet must not be in the server's env"
    s = serve()
    first = cli("deploy", f"{app_copy(tmp_path, 'figlet')}::Figlet", "--app-name", APP, url=s.url)
    assert "is serving" in first.stdout and "pyfiglet" in first.stdout, first.stdout
    assert f"{s.url}/{APP}" in first.stdout
    revisions = cli_json("apps", "list-rev", APP, url=s.url)
    assert [r["state"] for r in revisions] == ["LIVE"] and revisions[0]["revision"] in first.stdout
    rev1 = revisions[0]["revision"]

    previous = use_server(s.url)
    try:
        answer = fal_client.subscribe(APP, arguments={"text": "hi"})
        assert answer["revision"] == "figlet-1"
        assert "_" in answer["art"] and answer["art"].count("\n") >= 4  # a figlet banner
        assert "/envs/" in answer["python"]  # the app's own interpreter

        broken = app_copy(
            tmp_path,
            "figlet",
            **{'"pyfiglet==1.0.4"': '"pyfiglet==1.0.4", "openfal-no-such-package-zz==9.9.9"'},
        )
        failed = cli("deploy", f"{broken}::Figlet", "--app-name", APP, url=s.url, check=False)
        assert failed.returncode == 1, failed.stdout
        assert "FAILED" in failed.stderr and "openfal-no-such-package-zz" in failed.stderr
        assert "uv pip install" in failed.stderr  # the installer's own error
        assert fal_client.subscribe(APP, arguments={"text": "again"})["revision"] == "figlet-1"
        apps = {a["app_id"]: a for a in cli_json("apps", "list", url=s.url)}
        assert apps[APP]["revision"] == rev1 and apps[APP]["live_revision"] == rev1
        states = [r["state"] for r in cli_json("apps", "list-rev", APP, url=s.url)]
        assert states == ["LIVE", "FAILED"]
        logs = cli("apps", "logs", APP, url=s.url).stdout
        assert "openfal-no-such-package-zz" in logs

        # a re-deploy whose environment is cached: no installer run
        again = app_copy(tmp_path, "figlet", **{'"figlet-1"': '"figlet-2"'})
        t0 = time.monotonic()
        done = cli_json("deploy", f"{again}::Figlet", "--app-name", APP, url=s.url)
        cost = time.monotonic() - t0
        assert done["state"] == "LIVE", done
        build = cli_json("apps", "logs", APP, url=s.url)["logs"]
        assert any("cached" in line for line in build), build
        print(f"cached re-deploy (rolling, one warm runner): {cost:.2f}s")
        assert fal_client.subscribe(APP, arguments={"text": "x"})["revision"] == "figlet-2"
    finally:
        restore(previous)
