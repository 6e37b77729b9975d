"""POST /{path}/cancel: async endpoints stop at once, sync ones at their next progress report."""

import asyncio
import threading

import httpx
from pydantic import BaseModel

import openfal
from openfal.runner import build_app

from .helpers import EVENTS, events, fixture_app, in_flight, serving, wait_until

CANCELLED = {"detail": "Request was cancelled", "error_type": "client_cancelled"}


async def _start(
    client: httpx.AsyncClient,
    path: str,
    body: dict[str, object],
    request_id: str,
    headers: dict[str, str] | None = None,
) -> "asyncio.Task[httpx.Response]":
    """Start a request and return once the runner counts it in flight."""
    sent = {"x-fal-request-id": request_id, **(headers or {})}
    task = asyncio.create_task(client.post(path, json=body, headers=sent))

    async def running() -> bool:
        return await in_flight(client) == 1

    await wait_until(running, what=f"{request_id} to be in flight")
    return task


async def _cancel(client: httpx.AsyncClient, path: str, request_id: str) -> httpx.Response:
    return await client.post(f"{path}/cancel", headers={"x-fal-request-id": request_id})


async def test_cancel_async_endpoint_answers_499() -> None:
    async with serving(fixture_app("slow")) as client:
        task = await _start(client, "/async", {"seconds": 600}, "r-async")
        cancel = await _cancel(client, "/async", "r-async")
        response = await task
        assert await in_flight(client) == 0
    assert (cancel.status_code, cancel.json()) == (200, {"status": "CANCELLATION_REQUESTED"})
    assert (response.status_code, response.json()) == (499, CANCELLED)


async def test_cancel_sync_endpoint_that_reports_progress() -> None:
    body = {"seconds": 600, "use_progress": True}
    async with serving(fixture_app("slow")) as client:
        task = await _start(client, "/", body, "r-sync", EVENTS)
        cancel = await _cancel(client, "", "r-sync")
        stream = events(await task)
    assert cancel.status_code == 200
    assert stream[-1]["type"] == "result"
    assert stream[-1]["status_code"] == 499
    assert stream[-1]["body"] == CANCELLED
    assert stream[-1]["error_type"] == "client_cancelled"
    assert all(event["type"] == "progress" for event in stream[:-1])


async def test_sync_endpoint_without_progress_runs_on_and_keeps_its_result() -> None:
    release = threading.Event()

    class Empty(BaseModel):
        pass

    class App(openfal.App):
        @openfal.endpoint("/")
        def run(self, input: Empty) -> dict[str, bool]:
            release.wait(timeout=60)
            request = self.current_request
            return {"saw_cancel": request is not None and request.cancelled}

    async with serving(App) as client:
        task = await _start(client, "/", {}, "r-stuck")
        cancel = await _cancel(client, "", "r-stuck")
        assert not task.done()
        release.set()
        response = await task
    assert cancel.status_code == 200
    assert (response.status_code, response.json()) == (200, {"saw_cancel": True})


async def test_cancel_of_unknown_request_is_404_and_missing_header_400() -> None:
    async with serving(fixture_app("slow")) as client:
        unknown = await _cancel(client, "", "nobody")
        missing = await client.post("/async/cancel")
    assert unknown.status_code == 404
    assert "nobody" in unknown.json()["detail"]
    assert missing.status_code == 400


async def test_duplicate_request_id_is_refused_while_running() -> None:
    async with serving(fixture_app("slow")) as client:
        task = await _start(client, "/async", {"seconds": 600}, "r-dup")
        duplicate = await client.post(
            "/async", json={"seconds": 0}, headers={"x-fal-request-id": "r-dup"}
        )
        await _cancel(client, "/async", "r-dup")
        await task
    assert duplicate.status_code == 409


async def test_cancel_that_arrives_before_the_endpoint_starts() -> None:
    app = build_app(fixture_app("slow"))
    async with app.router.lifespan_context(app):
        runner = app.state.runner
        for path in ("", "async"):
            active, task = runner.start(path, f"early-{path}", {}, b'{"seconds": 600}', True)
            active.cancel()  # before the task has run a single step
            result = await task
            assert (result.status_code, result.body) == (499, CANCELLED)
            assert await active.events.get() == result
