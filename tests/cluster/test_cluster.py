"""Two gateways, two workers and a redis-server, as real processes on loopback.

The tests share one cluster and run in order: the last ones kill and stop workers.
Workers hand out fake GPU ids (``--gpus``): the ledger app needs one GPU per runner, so
worker 1 can hold one runner and worker 2 two; the app's max_concurrency of 2 must hold
for the cluster even though the hosts together could run 3.
"""

from __future__ import annotations

import collections
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.cluster.harness import Cluster, Gateway, Worker, ledger, status, submit
from tests.e2e.harness import wait_for
from tests.store.redis_server import start_redis

pytestmark = pytest.mark.e2e

APP = "test/ledger"
LEASE_TTL = "6"  # slots and leases of a killed worker free themselves after this


@dataclass
class Setup:
    cluster: Cluster
    g1: Gateway
    g2: Gateway
    w1: Worker
    w2: Worker
    root: Path


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    root = tmp_path_factory.mktemp("cluster")
    redis = start_redis(root / "redis")
    cluster = Cluster(root, redis)
    try:
        common = ["--lease-ttl", LEASE_TTL]
        w1 = cluster.worker("ledger", args=[*common, "--gpus", "0"])
        w2 = cluster.worker("ledger", args=[*common, "--gpus", "1,2"])
        g1, g2 = cluster.gateway(), cluster.gateway()
        yield Setup(cluster, g1, g2, w1, w2, root)
    finally:
        cluster.stop()
        redis.stop()


def folder(setup: Setup, name: str) -> Path:
    path = setup.root / name
    path.mkdir()
    return path


def wait_all_completed(c: httpx.Client, ids: list[str], timeout: float = 90.0) -> None:
    pending = set(ids)

    def done() -> bool:
        for request_id in list(pending):
            if status(c, APP, request_id)["status"] == "COMPLETED":
                pending.discard(request_id)
        return not pending

    wait_for(done, timeout, interval=0.2, what=f"{len(pending)} requests to complete")


def test_200_requests_round_robin_run_exactly_once_within_max_concurrency(setup: Setup):
    out = folder(setup, "run200")
    live_runners: list[int] = []
    stop = threading.Event()

    def sample() -> None:  # the registry as any gateway sees it, every 20 ms
        with setup.g1.client() as c:
            while not stop.is_set():
                live_runners.append(len(c.get("/rest/runners", params={"app_id": APP}).json()))
                stop.wait(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with setup.g1.client() as c1, setup.g2.client() as c2:
            ids = [
                submit((c1, c2)[i % 2], APP, {"dir": str(out), "seconds": 0.01, "tag": str(i)})
                for i in range(200)
            ]
            assert len(set(ids)) == 200
            wait_for(
                lambda: sum(line[0] == "end" for line in ledger(out)) >= 200,
                120,
                interval=0.2,
                what="200 ledger entries",
            )
            wait_all_completed(c1, ids)
            for i, request_id in enumerate(ids):
                r = (c2, c1)[i % 2].get(f"/queue/{APP}/requests/{request_id}")
                assert r.status_code == 200, r.text
                assert r.json()["request_id"] == request_id and r.json()["tag"] == str(i)
    finally:
        stop.set()
        sampler.join()

    lines = ledger(out)
    starts = collections.Counter(line[1] for line in lines if line[0] == "start")
    assert set(starts) == set(ids)
    assert max(starts.values()) == 1, "a request ran twice"
    peak = max(int(line[4]) for line in lines)
    assert peak <= 2, f"{peak} calls ran at once with max_concurrency=2"
    assert peak == 2, "the two runners never ran side by side"
    assert live_runners and max(live_runners) <= 2, max(live_runners)
    # each runner ran on a GPU of its own worker
    gpus_by_pid = collections.defaultdict(set)
    for line in lines:
        gpus_by_pid[line[2]].add(line[3])
    assert all(len(g) == 1 and next(iter(g)) in {"0", "1", "2"} for g in gpus_by_pid.values())


def test_status_stream_on_gateway_1_follows_a_request_submitted_on_gateway_2(setup: Setup):
    out = folder(setup, "stream")
    with setup.g2.client() as c2:
        request_id = submit(c2, APP, {"dir": str(out), "seconds": 1.5})
    seen = []
    with (
        setup.g1.client() as c1,
        c1.stream("GET", f"/queue/{APP}/requests/{request_id}/status/stream") as r,
    ):
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("data: "):
                seen.append(json.loads(line[6:])["status"])
    assert seen[-1] == "COMPLETED"
    assert "IN_PROGRESS" in seen, seen
    assert ledger(out)[0][1] == request_id


def test_runners_list_shows_every_runner_of_the_cluster(setup: Setup):
    with setup.g2.client() as c:
        runners = c.get("/rest/runners").json()
    assert runners and all(r["app_id"] == APP and r["host"] for r in runners)
    out = subprocess.run(
        [sys.executable, "-m", "openfal", "runners", "list", "--store", setup.cluster.redis.url],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    for header in ("host", "app", "state", "in flight", "uptime"):
        assert header in out
    for r in runners:
        assert r["runner_id"] in out and r["worker_id"] in out
    as_json = subprocess.run(
        [
            sys.executable,
            "-m",
            "openfal",
            "runners",
            "list",
            "--json",
            "--store",
            setup.cluster.redis.url,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    listed = [json.loads(line) for line in as_json.splitlines()]
    assert {r["runner_id"] for r in listed} >= {r["runner_id"] for r in runners}
    assert all(r["state"] in ("STARTING", "READY", "STOPPING") and r["uptime"] >= 0 for r in listed)


def worker_of(setup: Setup, worker_id: str) -> Worker:
    pid = int(worker_id.rsplit("-", 2)[1])
    return next(w for w in (setup.w1, setup.w2) if w.pid == pid)


def test_kill_9_one_worker_mid_load_and_every_request_still_completes(setup: Setup):
    out = folder(setup, "kill")
    with setup.g1.client() as c1, setup.g2.client() as c2:
        ids = [submit((c1, c2)[i % 2], APP, {"dir": str(out), "seconds": 0.3}) for i in range(30)]
        wait_for(lambda: len(ledger(out)) >= 4, 60, what="the load to start")
        runners = c1.get("/rest/runners", params={"app_id": APP}).json()
        # a worker with a request in flight (as of its last heartbeat), else any with a runner
        busy = sorted(runners, key=lambda r: -r["in_flight"])
        victim = worker_of(setup, busy[0]["worker_id"])
        victim.kill9()
        wait_all_completed(c1, ids, timeout=100)
        for request_id in ids:
            body = status(c2, APP, request_id)
            assert "error_type" not in body, body
        survivors = {r["worker_id"] for r in c2.get("/rest/runners").json()}
    assert busy[0]["worker_id"] not in survivors
    assert {line[1] for line in ledger(out) if line[0] == "end"} == set(ids)


def test_sigterm_drains_in_flight_requests_claims_nothing_new_and_exits_0(setup: Setup):
    survivor = setup.w2 if setup.w1.proc and setup.w1.proc.poll() is not None else setup.w1
    out = folder(setup, "drain")
    with setup.g1.client() as c:
        ids = [submit(c, APP, {"dir": str(out), "seconds": 2.0}) for _ in range(5)]
        running = wait_for(
            lambda: [i for i in ids if status(c, APP, i)["status"] == "IN_PROGRESS"],
            60,
            what="requests to start",
        )
        survivor.terminate()
        assert survivor.wait(60) == 0, survivor.logs()
        records = setup.cluster.records(ids)
        finished = [i for i in ids if records[i].status.value == "COMPLETED"]
        assert set(running) <= set(finished), "an in-flight request was not finished"
        for request_id in finished:
            rec = records[request_id]
            assert rec.error_type is None and rec.attempts == 1, rec
        left = [i for i in ids if i not in finished]
        assert left, "the drain should not have taken every queued request"
        assert all(records[i].status.value == "IN_QUEUE" for i in left)
        assert "draining" in survivor.logs()
        # a new worker takes what was left
        setup.cluster.worker("ledger", args=["--lease-ttl", LEASE_TTL, "--gpus", "0"])
        wait_all_completed(c, ids)
    assert collections.Counter(line[1] for line in ledger(out) if line[0] == "start") == {
        i: 1 for i in ids
    }
