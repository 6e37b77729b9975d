"""A rolling deploy and a set-rev back, each under a steady load of 25 requests/s:
nothing is lost, and once a revision answered, no request sent later is answered by the
one it replaced."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from .conftest import app_copy, cli, cli_json

pytestmark = pytest.mark.e2e

APP = "acme/rolling"
RATE = 25.0  # requests per second


@dataclass
class Call:
    n: int
    sent: float
    done: float = 0.0
    status: int = 0
    revision: str = ""


async def _load(url: str, calls: list[Call], stop: asyncio.Event) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=120) as http:

        async def one(call: Call) -> None:
            try:
                resp = await http.post(f"/{APP}", json={"n": call.n})
                call.status = resp.status_code
                if resp.status_code == 200 and resp.json()["n"] == call.n:
                    call.revision = resp.json()["revision"]
            except httpx.HTTPError as e:
                call.status = -1
                call.revision = repr(e)
            call.done = time.monotonic()

        tasks = []
        start = time.monotonic()
        while not stop.is_set():
            call = Call(len(calls), time.monotonic())
            calls.append(call)
            tasks.append(asyncio.create_task(one(call)))
            await asyncio.sleep(max(0.0, start + len(calls) / RATE - time.monotonic()))
        await asyncio.gather(*tasks)


def _first_answer(calls: list[Call], revision: str, after: float) -> float:
    return min(c.done for c in calls if c.revision == revision and c.sent > after)


async def _scenario(url: str, rev2_file: Path) -> tuple[list[Call], float]:
    calls: list[Call] = []
    stop = asyncio.Event()
    load = asyncio.create_task(_load(url, calls, stop))
    await asyncio.sleep(3)
    await asyncio.to_thread(cli, "deploy", f"{rev2_file}::RevisionEcho", "--app-name", APP, url=url)
    await asyncio.sleep(3)
    revisions = await asyncio.to_thread(cli_json, "apps", "list-rev", APP, url=url)
    rev1 = revisions[0]["revision"]
    set_rev_at = time.monotonic()
    await asyncio.to_thread(cli, "apps", "set-rev", APP, rev1, url=url)
    await asyncio.sleep(3)
    stop.set()
    await load
    return calls, set_rev_at


def test_rolling_deploy_and_set_rev_under_load(serve, tmp_path: Path) -> None:
    s = serve()
    rev1_file = app_copy(tmp_path, "revision_echo", **{"DELAY = 0.0": "DELAY = 0.02"})
    rev2_file = app_copy(
        tmp_path, "revision_echo", **{"DELAY = 0.0": "DELAY = 0.02", '"rev-1"': '"rev-2"'}
    )
    cli("deploy", f"{rev1_file}::RevisionEcho", "--app-name", APP, url=s.url)
    cli("apps", "scale", APP, "--min-concurrency", "1", url=s.url)
    with httpx.Client(base_url=s.url, timeout=60) as c:
        assert c.post(f"/{APP}", json={"n": -1}).json()["revision"] == "rev-1"

    calls, set_rev_at = asyncio.run(_scenario(s.url, rev2_file))

    lost = [c for c in calls if c.status != 200 or c.revision not in ("rev-1", "rev-2")]
    assert not lost, lost[:5]
    seconds = calls[-1].sent - calls[0].sent
    assert len(calls) / seconds >= 20 and seconds >= 10, (len(calls), seconds)
    # after the first answer from rev-2, every request sent (until set-rev) gets rev-2
    switch = _first_answer(calls, "rev-2", 0.0)
    late = [c for c in calls if switch < c.sent < set_rev_at and c.revision != "rev-2"]
    assert not late, late[:5]
    # and after set-rev's first answer from rev-1, every later request gets rev-1
    back = _first_answer(calls, "rev-1", set_rev_at)
    late = [c for c in calls if c.sent > back and c.revision != "rev-1"]
    assert not late, late[:5]
    on2 = sum(c.revision == "rev-2" for c in calls)
    print(f"{len(calls)} requests in {seconds:.1f}s, {on2} answered by rev-2, 0 lost")
