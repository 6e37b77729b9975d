"""The worker link against a scripted runner on a Unix socket, and a real runner process."""

from __future__ import annotations

import asyncio
import json
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import msgpack
import pytest

from openfal.store import RequestStatus
from openfal.store.memory import MemoryStore
from openfal.worker.job import DispatchConfig, run_request
from openfal.worker.link import RunnerLink
from openfal.worker.runner_process import RunnerProcess, RunnerState

HEADER = struct.Struct(">I")

Script = Callable[[dict[str, Any], asyncio.StreamWriter], Awaitable[None]]


def frame(message: dict[str, Any]) -> bytes:
    data = msgpack.packb(message, use_bin_type=True)
    return HEADER.pack(len(data)) + data


async def read(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    try:
        head = await reader.readexactly(4)
    except asyncio.IncompleteReadError:
        return None
    out: dict[str, Any] = msgpack.unpackb(await reader.readexactly(HEADER.unpack(head)[0]))
    return out


async def fake_runner(path: Path, script: Script) -> asyncio.AbstractServer:
    """A link server that answers every run message with ``script``."""

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (message := await read(reader)) is not None:
            if message["type"] == "run":
                await script(message, writer)

    return await asyncio.start_unix_server(connected, path=str(path))


def result(request_id: str, body: Any, status: int = 200) -> dict[str, Any]:
    return {
        "type": "result",
        "id": request_id,
        "status_code": status,
        "body": json.dumps(body).encode(),
        "error_type": None,
        "inference_time": 0.01,
    }


@pytest.fixture
async def linked(tmp_path: Path) -> AsyncIterator[Callable[[Script], Awaitable[RunnerProcess]]]:
    servers: list[asyncio.AbstractServer] = []
    runners: list[RunnerProcess] = []

    async def make(script: Script) -> RunnerProcess:
        path = tmp_path / f"link{len(servers)}.sock"
        servers.append(await fake_runner(path, script))
        runner = RunnerProcess(app_id="a/app", app_ref="x", port=9, state=RunnerState.READY)
        runner.link = await RunnerLink.connect(str(path))
        runners.append(runner)
        return runner

    yield make
    for runner in runners:
        assert runner.link is not None
        await runner.link.close()
    for server in servers:
        server.close()


async def _run(store: MemoryStore, runner: RunnerProcess, body: bytes = b"{}") -> Any:
    rec = await store.enqueue("a/app", "", body)
    claimed = await store.claim(["a/app"], "w1", lease_ttl=30)
    assert claimed is not None and claimed.id == rec.id
    healthy = await asyncio.wait_for(
        run_request(store, None, runner, claimed, "w1", DispatchConfig(lease_ttl=30)),  # type: ignore[arg-type]
        5,
    )
    return healthy, await store.get(rec.id), await store.get_logs(rec.id)


async def test_logs_progress_and_result_travel_as_frames(linked):
    tag = "a\u2028b\u2029c\u0085d"

    async def script(message: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        rid = message["id"]
        assert json.loads(message["body"]) == {"x": tag}
        writer.write(
            frame(
                {
                    "type": "log",
                    "id": rid,
                    "level": "STDOUT",
                    "message": tag,
                    "source": "USER",
                    "timestamp": "t",
                }
            )
        )
        writer.write(frame(result(rid, {"tag": tag})))

    runner = await linked(script)
    store = MemoryStore()
    healthy, done, logs = await _run(store, runner, json.dumps({"x": tag}).encode())
    assert healthy
    assert done.status is RequestStatus.COMPLETED and done.error is None
    assert json.loads(done.result) == {"tag": tag}
    assert done.metrics == {"inference_time": 0.01}
    assert [entry.message for entry in logs] == [tag]


@pytest.mark.parametrize(
    "junk",
    [
        {"type": "bogus"},
        {"type": "result", "status_code": "200", "body": b"1"},
        {"type": "event", "data": {"not": "bytes"}},
    ],
)
async def test_an_unexpected_frame_fails_that_request_and_keeps_the_link(linked, junk):
    calls = 0

    async def script(message: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        nonlocal calls
        calls += 1
        rid = message["id"]
        if calls == 1:
            writer.write(frame({**junk, "id": rid}))
        writer.write(frame(result(rid, calls)))

    runner = await linked(script)
    store = MemoryStore()
    healthy, done, _ = await _run(store, runner)
    assert healthy  # one bad frame does not replace the runner
    assert (done.status_code, done.error_type) == (502, "runner_protocol_error")
    healthy, done, _ = await _run(store, runner)  # the same link serves the next request
    assert healthy and done.error_type is None and json.loads(done.result) == 2


async def test_a_link_that_drops_requeues_the_request(linked):
    async def script(message: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        writer.write(
            frame(
                {
                    "type": "log",
                    "id": message["id"],
                    "level": "INFO",
                    "message": "started",
                    "source": "USER",
                    "timestamp": "t",
                }
            )
        )
        await writer.drain()
        writer.close()  # the runner died mid-request

    runner = await linked(script)
    store = MemoryStore()
    healthy, done, _ = await _run(store, runner)
    assert not healthy  # the runner is replaced
    assert done.status is RequestStatus.IN_QUEUE  # and the request runs again elsewhere
    assert done.attempts == 1


async def test_many_requests_share_one_link(linked):
    async def script(message: dict[str, Any], writer: asyncio.StreamWriter) -> None:
        rid = message["id"]

        async def later() -> None:
            await asyncio.sleep(0.01)
            writer.write(frame(result(rid, rid)))

        asyncio.get_running_loop().create_task(later())

    runner = await linked(script)
    store = MemoryStore()
    outcomes = await asyncio.gather(*(_run(store, runner) for _ in range(20)))
    for healthy, done, _ in outcomes:
        assert healthy and json.loads(done.result) == done.id
