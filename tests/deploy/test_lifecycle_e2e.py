"""Secrets, live scaling, runners and restarts of deployed apps, through the CLI."""

from __future__ import annotations

import hashlib
import json
import stat
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import Serve, wait_for

from .conftest import app_copy, cli, cli_json

pytestmark = pytest.mark.e2e

APP = "acme/echo-rev"
TOKEN = "tok-SECRET-9f8e7d6c5b4a"


def _runners(url: str) -> list[dict]:
    return cli_json("runners", "list", APP, url=url)


def _everything_the_api_answers(url: str, runner_ids: list[str], request_id: str) -> str:
    paths = [
        "/rest/apps",
        f"/rest/apps/{APP}",
        f"/rest/apps/{APP}/logs",
        "/rest/secrets",
        "/rest/runners",
        f"/queue/{APP}/requests/{request_id}/status?logs=1",
        f"/queue/{APP}/requests/{request_id}",
        *(f"/rest/runners/{r}/logs" for r in runner_ids),
    ]
    with httpx.Client(base_url=url, timeout=30) as c:
        answers = [c.get(p) for p in paths]
    assert all(a.status_code == 200 for a in answers), [(a.url, a.status_code) for a in answers]
    return "\n".join(a.text for a in answers)


def test_secrets_reach_the_app_and_nothing_else(serve, tmp_path: Path) -> None:
    s = serve()
    out = cli("secrets", "set", f"MY_TOKEN={TOKEN}", url=s.url).stdout
    assert TOKEN not in out
    listed = cli_json("secrets", "list", url=s.url)
    assert [x["name"] for x in listed] == ["MY_TOKEN"] and listed[0]["created_at"] > 0
    cli(
        "deploy",
        f"{app_copy(tmp_path, 'revision_echo')}::RevisionEcho",
        "--app-name",
        APP,
        url=s.url,
    )
    with httpx.Client(base_url=s.url, timeout=60) as c:
        submitted = c.post(f"/queue/{APP}", json={"n": 7}).json()
        wait_for(
            lambda: c.get(submitted["status_url"]).json()["status"] == "COMPLETED", 60, what="call"
        )
        answer = c.get(submitted["response_url"]).json()
        assert answer["token_sha256"] == hashlib.sha256(TOKEN.encode()).hexdigest()
        logs = c.get(submitted["status_url"], params={"logs": 1}).json()["logs"]
    assert any(e["message"] == "call 7 on rev-1 with token [REDACTED]" for e in logs), logs
    messages = [e["message"] for e in logs]  # it waited for a cold start, and saw it
    assert messages[0].startswith(f"starting a runner for {APP}"), messages
    assert "setup of rev-1: token is [REDACTED]" in messages, messages
    runner_ids = [r["runner_id"] for r in _runners(s.url)]
    runner_log = "\n".join(cli_json("runners", "logs", runner_ids[0], url=s.url)["logs"])
    assert "setup of rev-1: token is [REDACTED]" in runner_log, runner_log
    answers = _everything_the_api_answers(s.url, runner_ids, submitted["request_id"])
    assert TOKEN not in answers
    s.stop()
    assert TOKEN not in s.log_path.read_text()  # the server's own output
    for db in s.data_dir.glob("openfal.db*"):
        assert TOKEN.encode() not in db.read_bytes()  # encrypted at rest
    key = s.data_dir / "secrets.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_scaling_applies_live_persists_and_survives_a_restart(serve, tmp_path: Path) -> None:
    s = serve()
    cli("secrets", "set", "MY_TOKEN", TOKEN, url=s.url)
    cli(
        "deploy",
        f"{app_copy(tmp_path, 'revision_echo')}::RevisionEcho",
        "--app-name",
        APP,
        url=s.url,
    )
    assert _runners(s.url) == []  # scaled to zero: nothing runs before a request
    out = cli(
        "apps",
        "scale",
        APP,
        "--min-concurrency",
        "1",
        "--keep-alive",
        "7",
        "--max-multiplexing",
        "3",
        url=s.url,
    ).stdout
    assert "min_concurrency=1" in out
    wait_for(lambda: [r["state"] for r in _runners(s.url)] == ["READY"], 60, what="a runner")
    apps = {a["app_id"]: a for a in cli_json("apps", "list", url=s.url)}
    assert apps[APP]["settings"]["min_concurrency"] == 1
    assert apps[APP]["settings"]["keep_alive"] == 7
    assert apps[APP]["scaling"] == {"min_concurrency": 1, "keep_alive": 7.0, "max_multiplexing": 3}
    first = _runners(s.url)[0]
    assert first["max_multiplexing"] == 3
    # a killed runner is replaced (min_concurrency 1)
    cli("runners", "kill", first["runner_id"], url=s.url)
    wait_for(
        lambda: (
            [r["runner_id"] for r in _runners(s.url) if r["state"] == "READY"]
            not in ([], [first["runner_id"]])
        ),
        60,
        what="a new runner",
    )
    revisions = cli_json("apps", "list-rev", APP, url=s.url)
    s.stop()

    again = Serve(s.data_dir, []).start()
    try:
        apps = {a["app_id"]: a for a in cli_json("apps", "list", url=again.url)}
        assert apps[APP]["scaling"] == {
            "min_concurrency": 1,
            "keep_alive": 7.0,
            "max_multiplexing": 3,
        }
        assert cli_json("apps", "list-rev", APP, url=again.url) == revisions
        assert [x["name"] for x in cli_json("secrets", "list", url=again.url)] == ["MY_TOKEN"]
        wait_for(lambda: [r["state"] for r in _runners(again.url)] == ["READY"], 60, what="runner")
        with httpx.Client(base_url=again.url, timeout=60) as c:
            answer = c.post(f"/{APP}", json={"n": 1}).json()
        assert answer["revision"] == "rev-1"
        assert answer["token_sha256"] == hashlib.sha256(TOKEN.encode()).hexdigest()
        cli("apps", "scale", APP, "--min-concurrency", "0", "--keep-alive", "0", url=again.url)
        wait_for(lambda: _runners(again.url) == [], 60, what="scale to zero")
        assert json.loads(cli("apps", "delete", APP, "--json", url=again.url).stdout)["deleted"]
        assert APP not in {a["app_id"] for a in cli_json("apps", "list", url=again.url)}
        cli("secrets", "unset", "MY_TOKEN", url=again.url)
        assert cli_json("secrets", "list", url=again.url) == []
        assert cli("secrets", "unset", "MY_TOKEN", url=again.url, check=False).returncode == 1
    finally:
        again.stop()


def test_an_app_given_with_app_scales_live_too(serve) -> None:
    s = serve("revision_echo")  # --app, not deployed
    app = "local/revision-echo"
    assert cli_json("runners", "list", app, url=s.url) == []
    cli("apps", "scale", app, "--min-concurrency", "1", url=s.url)
    wait_for(
        lambda: [r["state"] for r in cli_json("runners", "list", app, url=s.url)] == ["READY"],
        60,
        what="a runner",
    )
    listed = {a["app_id"]: a for a in cli_json("apps", "list", url=s.url)}
    assert listed[app]["settings"]["min_concurrency"] == 1 and listed[app]["revision"] is None
