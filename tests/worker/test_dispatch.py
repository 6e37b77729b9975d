"""run_request against a scripted runner (httpx mock transport) and an in-memory store."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from openfal.store import RequestStatus
from openfal.store.memory import MemoryStore
from openfal.worker.job import DispatchConfig, run_request
from openfal.worker.runner_process import RunnerProcess, RunnerState


class SwallowingStore(MemoryStore):
    """On Python 3.11 ``asyncio.wait_for`` drops a cancel that lands just as the wait it
    guards completes; this store does so every time."""

    async def wait_for_change(self, request_id: str, timeout: float) -> bool:
        try:
            return await super().wait_for_change(request_id, timeout)
        except asyncio.CancelledError:
            return True


def runner_answering(lines: list[dict[str, object]]) -> httpx.AsyncClient:
    body = "".join(json.dumps(line) + "\n" for line in lines).encode()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": "application/x-ndjson"})

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def test_the_job_ends_with_its_result_even_when_the_watch_ignores_its_cancel():
    store = SwallowingStore()
    await store.enqueue("a/app", "", b"{}")
    rec = await store.claim(["a/app"], "w1", lease_ttl=30)
    assert rec is not None
    runner = RunnerProcess(app_id="a/app", app_ref="x", port=9, state=RunnerState.READY)
    result = {"type": "result", "status_code": 200, "body": {"ok": True}}
    async with runner_answering([{"type": "log", "message": "hi"}, result]) as http:
        # the lease is renewed every 10 s: a job that waited for that would time out here
        healthy = await asyncio.wait_for(
            run_request(store, http, runner, rec, "w1", DispatchConfig(lease_ttl=30)), 5
        )
    assert healthy
    done = await store.get(rec.id)
    assert done is not None and done.status is RequestStatus.COMPLETED
    assert json.loads(done.result or b"") == {"ok": True}


def runner_sending(body: bytes) -> httpx.AsyncClient:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"content-type": "application/x-ndjson"})

    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def _run_on(body: bytes) -> tuple[bool, object]:
    store = MemoryStore()
    await store.enqueue("a/app", "", b"{}")
    rec = await store.claim(["a/app"], "w1", lease_ttl=30)
    assert rec is not None
    runner = RunnerProcess(app_id="a/app", app_ref="x", port=9, state=RunnerState.READY)
    async with runner_sending(body) as http:
        healthy = await asyncio.wait_for(
            run_request(store, http, runner, rec, "w1", DispatchConfig(lease_ttl=30)), 5
        )
    return healthy, await store.get(rec.id)


async def test_raw_line_separators_inside_json_strings_are_not_frame_ends():
    tag = "a\u2028b\u2029c\u0085d"
    log = json.dumps({"type": "log", "message": tag}, ensure_ascii=False)
    result = json.dumps(
        {"type": "result", "status_code": 200, "body": {"tag": tag}}, ensure_ascii=False
    )
    healthy, done = await _run_on(f"{log}\n{result}\n".encode())
    assert healthy
    assert done.status is RequestStatus.COMPLETED and done.error is None  # type: ignore[attr-defined]
    assert json.loads(done.result) == {"tag": tag}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "junk",
    [
        b"{not json",
        b"\xff\xfe{}",
        b"[1, 2]",
        b'{"type": "surprise"}',
        b'{"type": "result", "status_code": "x"}',
        b"[" * 5000,
    ],
)
async def test_an_unexpected_frame_fails_that_request_and_keeps_the_runner(junk):
    result = b'{"type": "result", "status_code": 200, "body": 1}\n'
    healthy, done = await _run_on(b'{"type": "log", "message": "hi"}\n' + junk + b"\n" + result)
    assert healthy  # the runner is not replaced for one bad frame
    assert done.status is RequestStatus.COMPLETED  # type: ignore[attr-defined]
    assert done.error_type == "runner_protocol_error"  # type: ignore[attr-defined]
    assert done.status_code == 502  # type: ignore[attr-defined]
