"""The official ``fal-client`` from PyPI, pointed at ``openfal serve`` (PROTOCOL.md §12.1)."""

from __future__ import annotations

from collections.abc import Iterator

import fal_client
import pytest

from openfal.compat import restore, use_server
from tests.e2e.harness import Serve, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def fal(serve) -> Iterator[Serve]:
    s = serve("steps", "sleeper")
    previous = use_server(s.url, key="local-dev-key")
    yield s
    restore(previous)


def test_run(fal):
    assert fal_client.run("test/steps", arguments={"steps": 1, "delay": 0, "tag": "x"}) == {
        "steps": 1,
        "tag": "x",
    }


def test_submit_status_result(fal):
    handle = fal_client.submit("test/steps", arguments={"steps": 3, "delay": 0.05, "tag": "q"})
    assert handle.request_id
    rebuilt = fal_client.SyncClient().get_handle("test/steps", handle.request_id)
    assert rebuilt.status_url == handle.status_url
    assert handle.get() == {"steps": 3, "tag": "q"}
    done = handle.status(with_logs=False)
    assert isinstance(done, fal_client.Completed) and done.logs is None
    done = handle.status(with_logs=True)
    assert [e["message"] for e in done.logs] == [f"step {i} of 3 q" for i in (1, 2, 3)]
    assert "inference_time" in done.metrics
    assert fal_client.status("test/steps", handle.request_id).__class__ is fal_client.Completed
    assert fal_client.result("test/steps", handle.request_id) == {"steps": 3, "tag": "q"}


def test_subscribe_sees_queue_then_progress(fal):
    busy = fal_client.submit("test/steps", arguments={"steps": 10, "delay": 0.1})
    updates: list[object] = []
    out = fal_client.subscribe(
        "test/steps",
        arguments={"steps": 3, "delay": 0.1, "tag": "s"},
        with_logs=True,
        on_queue_update=updates.append,
    )
    assert out == {"steps": 3, "tag": "s"}
    kinds = [type(u).__name__ for u in updates]
    assert "Queued" in kinds and "InProgress" in kinds
    assert kinds.index("Queued") < kinds.index("InProgress")
    busy.get()


def test_cancel(fal):
    handle = fal_client.submit("test/sleeper/progress", arguments={"seconds": 120})
    wait_for(lambda: isinstance(handle.status(), fal_client.InProgress), 60, what="running")
    handle.cancel()
    wait_for(lambda: isinstance(handle.status(), fal_client.Completed), 10, what="cancelled")
    with pytest.raises(fal_client.client.FalClientHTTPError) as e:
        handle.get()
    assert e.value.status_code == 499


def test_validation_error_surfaces(fal):
    with pytest.raises(fal_client.client.FalClientHTTPError) as e:
        fal_client.submit("test/steps", arguments={"steps": 0})
    assert e.value.status_code == 422
    assert e.value.message[0]["loc"] == ["body", "steps"]
