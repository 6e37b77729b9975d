"""setup/teardown in the lifespan, /health with hints and the app's own fields."""

import logging
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from pydantic import BaseModel

import openfal
from openfal.runner import build_app

from .helpers import fixture_app, serving


class Empty(BaseModel):
    pass


async def test_health_reports_hints_and_in_flight(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNNER_HINT", "model-a")
    async with serving(fixture_app("hints")) as client:
        health = await client.get("/health")
        run = await client.post("/", json={})
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "hints": ["model-a"], "in_flight": 0}
    assert run.json() == {"hint": "model-a"}


async def test_health_merges_app_fields_and_503_when_it_raises() -> None:
    class App(openfal.App):
        healthy = True

        async def health(self) -> dict[str, object]:
            if not self.healthy:
                raise RuntimeError("gpu fell off")
            return {"gpu": "ok"}

        @openfal.endpoint("/")
        def run(self, input: Empty) -> Empty:
            type(self).healthy = False
            return input

    async with serving(App) as client:
        good = await client.get("/health")
        await client.post("/", json={})
        bad = await client.get("/health")
    assert good.json() == {"status": "ok", "hints": [], "in_flight": 0, "gpu": "ok"}
    assert bad.status_code == 503
    assert bad.json()["status"] == "error"
    assert "gpu fell off" in bad.json()["detail"]


async def test_sync_and_async_setup_and_teardown_run_once() -> None:
    calls: list[str] = []

    class SyncApp(openfal.App):
        def setup(self) -> None:
            calls.append("sync setup")

        def teardown(self) -> None:
            calls.append("sync teardown")

        @openfal.endpoint("/")
        def run(self, input: Empty) -> Empty:
            calls.append("call")
            return input

    class AsyncApp(SyncApp):
        async def setup(self) -> None:
            calls.append("async setup")

        async def teardown(self) -> None:
            calls.append("async teardown")

    for cls in (SyncApp, AsyncApp):
        async with serving(cls) as client:
            await client.post("/", json={})
    assert calls == ["sync setup", "call", "sync teardown", "async setup", "call", "async teardown"]


async def test_setup_failure_propagates_from_the_lifespan() -> None:
    app = build_app(fixture_app("fails_setup"))
    with pytest.raises(RuntimeError, match="setup failed on purpose"):
        async with app.router.lifespan_context(app):
            pass
    assert app.state.setup_failed is True


async def test_capture_is_installed_only_while_serving() -> None:
    before = (threading.Thread.start, ThreadPoolExecutor.submit, sys.stdout, sys.stderr)
    handlers = list(logging.getLogger().handlers)
    async with serving(fixture_app("echo")):
        assert sys.stdout is not before[2]
        assert threading.Thread.start is not before[0]
        assert len(logging.getLogger().handlers) == len(handlers) + 1
    assert (threading.Thread.start, ThreadPoolExecutor.submit, sys.stdout, sys.stderr) == before
    assert logging.getLogger().handlers == handlers
