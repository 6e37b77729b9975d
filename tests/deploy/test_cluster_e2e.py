"""Cluster mode: a deploy through one gateway is built and served by every worker host."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.cluster.harness import Cluster
from tests.e2e.harness import wait_for
from tests.store.redis_server import start_redis

from .conftest import app_copy, cli, cli_json

pytestmark = pytest.mark.e2e

APP = "acme/figlet"


def test_a_deploy_through_one_gateway_is_served_by_both_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENFAL_SECRETS_KEY", Fernet.generate_key().decode())
    redis = start_redis(tmp_path / "redis")
    cluster = Cluster(tmp_path, redis)
    try:
        g = cluster.gateway()
        workers = {}
        for name in ("host-a", "host-b"):  # two hosts: each builds its own environments
            monkeypatch.setenv("OPENFAL_DEPLOY_DIR", str(tmp_path / name))
            workers[name] = cluster.worker()
        cli("secrets", "set", "MY_TOKEN", "cluster-token-123", url=g.url)
        done = cli_json(
            "deploy", f"{app_copy(tmp_path, 'figlet')}::Figlet", "--app-name", APP, url=g.url
        )
        assert done["state"] == "LIVE", done
        for name, w in workers.items():  # each worker built the environment on its host
            wait_for(lambda w=w: "serving on this worker" in w.logs(), 120, what=name)
            assert list((tmp_path / name / "envs").glob("*/.ready")), name
        cli("apps", "scale", APP, "--min-concurrency", "1", url=g.url)
        served_by = set()
        with httpx.Client(base_url=g.url, timeout=120) as c:
            answer = c.post(f"/{APP}", json={"text": "a"}).json()
            assert answer["revision"] == "figlet-1"
            first = next(n for n in workers if f"/{n}/envs/" in answer["python"])
            served_by.add(first)
            # the host that served stops; the other one takes over the deployed app
            workers[first].terminate()
            assert workers[first].wait(60) == 0, workers[first].logs()
            answer = c.post(f"/{APP}", json={"text": "b"}).json()
            served_by.update(n for n in workers if f"/{n}/envs/" in answer["python"])
        assert served_by == {"host-a", "host-b"}, served_by
    finally:
        cluster.stop()
        redis.stop()
