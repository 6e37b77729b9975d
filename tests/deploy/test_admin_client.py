"""The Python admin client (``SyncServerlessClient``) against a running server."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from openfal.deploy.client import AdminError, SyncServerlessClient
from tests.e2e.harness import wait_for

from .conftest import app_copy

pytestmark = pytest.mark.e2e

APP = "acme/client"


def test_deploy_scale_runners_and_secrets_from_python(serve, tmp_path: Path) -> None:
    s = serve()
    with SyncServerlessClient(url=s.url) as client:
        client.secrets.set("MY_TOKEN", "client-token-1234")
        assert [x["name"] for x in client.secrets.list()] == ["MY_TOKEN"]
        lines: list[str] = []
        first = client.deploy(
            f"{app_copy(tmp_path, 'revision_echo')}::RevisionEcho",
            app_name=APP,
            on_log=lines.append,
        )
        assert first["state"] == "LIVE" and first["urls"]["run"] == f"{s.url}/{APP}"
        assert any("is serving" in line for line in lines), lines
        rev2 = app_copy(tmp_path, "revision_echo", **{'"rev-1"': '"rev-2"'})
        second = client.deploy(
            f"{rev2}::RevisionEcho",
            app_name=APP,
            strategy="recreate",
        )
        revisions = client.apps.list_rev(APP)
        assert [r["revision"] for r in revisions] == [first["revision"], second["revision"]]
        client.apps.set_rev(APP, first["revision"])
        assert client.apps.wait(APP, first["revision"], timeout=30)["serving"]
        client.apps.scale(APP, min_concurrency=1)
        wait_for(lambda: len(client.runners.list(APP)) == 1, 60, what="a runner")
        app = next(a for a in client.apps.list() if a["app_id"] == APP)
        assert app["settings"]["min_concurrency"] == 1 and app["revision"] == first["revision"]
        client.secrets.unset("MY_TOKEN")
        with pytest.raises(AdminError) as err:
            client.apps.scale(APP, min_concurrency=-1)
        assert err.value.status == 400


def test_a_revision_whose_setup_fails_never_takes_over(serve, tmp_path: Path) -> None:
    s = serve()
    setup = "    def setup(self) -> None:\n"
    broken_setup = {setup: setup + "        raise RuntimeError('no model here')\n"}
    with SyncServerlessClient(url=s.url) as client, httpx.Client(base_url=s.url, timeout=60) as c:
        first = client.deploy(f"{app_copy(tmp_path, 'revision_echo')}::RevisionEcho", app_name=APP)
        assert c.post(f"/{APP}", json={"n": 1}).json()["revision"] == "rev-1"  # warm
        failed = client.deploy(
            f"{app_copy(tmp_path, 'revision_echo', **broken_setup)}::RevisionEcho", app_name=APP
        )
        assert failed["state"] == "FAILED" and "did not start" in failed["error"], failed
        assert c.post(f"/{APP}", json={"n": 2}).json()["revision"] == "rev-1"
        assert client.apps.get(APP)["revision"] == first["revision"]
