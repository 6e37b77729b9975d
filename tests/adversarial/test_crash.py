"""The crash table: kill -9 in the middle of 120 queued requests, and nothing is lost.

The ledger app appends ``start``/``end`` lines with the request id to a file, so the test
sees every execution. For each crash: every accepted request ends COMPLETED with its own
output, none is lost or stuck, and executions beyond one per request (duplicates: delivery
is at-least-once) are counted; they may only be requests that were running when the process
died. The counts are printed (``pytest -s``) and quoted in the README's Guarantees section.
"""

from __future__ import annotations

import collections
import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.cluster.harness import Cluster, ledger
from tests.e2e.harness import Serve, wait_for
from tests.store.redis_server import start_redis

pytestmark = pytest.mark.e2e

APP = "test/ledger"
COUNT = 120
LEASE = "5"  # seconds before a dead process's requests go back to the queue
CONCURRENCY = 2  # the ledger app's max_concurrency: at most this many were running


def _submit_all(clients: list[httpx.Client], out: Path) -> dict[str, str]:
    """Submit COUNT requests round-robin; ``{request_id: tag}``."""
    accepted = {}
    for i in range(COUNT):
        r = clients[i % len(clients)].post(
            f"/queue/{APP}", json={"dir": str(out), "seconds": 0.05, "tag": f"t{i}"}
        )
        assert r.status_code == 200, r.text
        accepted[r.json()["request_id"]] = f"t{i}"
    return accepted


def _ended(out: Path) -> int:
    return sum(1 for line in ledger(out) if line[0] == "end")


def _all_completed(c: httpx.Client, accepted: dict[str, str]) -> Callable[[], bool]:
    pending = set(accepted)

    def check() -> bool:
        for rid in list(pending):
            r = c.get(f"/queue/{APP}/requests/{rid}/status")
            if r.status_code in (200, 202) and r.json()["status"] == "COMPLETED":
                pending.discard(rid)
        return not pending

    return check


def _tally(c: httpx.Client, accepted: dict[str, str], out: Path, crash: str) -> int:
    """Check every output; returns the number of duplicate executions."""
    wait_for(_all_completed(c, accepted), 240, interval=0.5, what="every request to complete")
    for rid, tag in accepted.items():
        status = c.get(f"/queue/{APP}/requests/{rid}/status").json()
        assert "error_type" not in status, (status.get("error_type"), status.get("error"))
        result = c.get(f"/queue/{APP}/requests/{rid}")
        assert result.status_code == 200, result.text
        body = result.json()
        assert (body["request_id"], body["tag"]) == (rid, tag), body
    lines = ledger(out)
    starts = collections.Counter(line[1] for line in lines if line[0] == "start")
    assert {line[1] for line in lines if line[0] == "end"} >= set(accepted)
    assert set(starts) == set(accepted)  # nothing ran that was not accepted
    duplicates = sum(n - 1 for n in starts.values())
    print(
        f"\ncrash table: {crash}: accepted {len(accepted)}, completed {len(accepted)}, "
        f"lost 0, duplicates {duplicates}"
    )
    return duplicates


def test_kill9_of_openfal_serve(tmp_path: Path) -> None:
    out = tmp_path / "ledger"
    out.mkdir()
    s = Serve(tmp_path / "data", ["ledger"], args=["--lease-ttl", LEASE]).start()
    try:
        with s.client() as c:
            accepted = _submit_all([c], out)
            wait_for(lambda: _ended(out) >= 20, 120, what="the load to start")
        s.kill9()
        s.start()  # same data dir: the SQLite store is the source of truth
        with s.client() as c:
            assert _tally(c, accepted, out, "kill -9 openfal serve") <= CONCURRENCY
    finally:
        s.stop()


def test_kill9_of_a_runner(tmp_path: Path) -> None:
    out = tmp_path / "ledger"
    out.mkdir()
    s = Serve(tmp_path / "data", ["ledger"], args=["--lease-ttl", LEASE]).start()
    try:
        with s.client() as c:
            accepted = _submit_all([c], out)
            wait_for(lambda: _ended(out) >= 20, 120, what="the load to start")
            victim = int(ledger(out)[-1][2])  # the process of the latest line: a runner
            os.kill(victim, signal.SIGKILL)
            assert _tally(c, accepted, out, "kill -9 of a runner") <= 1
            assert {int(line[2]) for line in ledger(out)[-5:]} - {victim}
    finally:
        s.stop()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    redis = start_redis(tmp_path / "redis")
    cluster = Cluster(tmp_path, redis)
    try:
        yield cluster
    finally:
        cluster.stop()
        redis.stop()


def test_kill9_of_a_cluster_worker(cluster: Cluster, tmp_path: Path) -> None:
    out = tmp_path / "ledger"
    out.mkdir()
    workers = [cluster.worker("ledger", args=["--lease-ttl", LEASE]) for _ in range(2)]
    gateways = [cluster.gateway(), cluster.gateway()]
    with gateways[0].client() as c1, gateways[1].client() as c2:
        accepted = _submit_all([c1, c2], out)
        wait_for(lambda: _ended(out) >= 20, 120, what="the load to start")
        runner_pid = int(ledger(out)[-1][2])
        victim = next(w for w in workers if _is_parent(w.pid, runner_pid))
        victim.kill9()
        assert _tally(c2, accepted, out, "kill -9 of a cluster worker") <= CONCURRENCY


def _is_parent(parent: int, child: int) -> bool:
    stat = Path(f"/proc/{child}/stat")
    if not stat.exists():
        return False
    return int(stat.read_text().rsplit(")", 1)[1].split()[1]) == parent
