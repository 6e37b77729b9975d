"""Revisions, deployments, secrets and line logs, against every backend."""

from __future__ import annotations

import asyncio
import time

import pytest

from openfal.store import Store
from openfal.store.deploy import Revision, RevisionState

from .conftest import StoreFactory

APP = "acme/figlet"


def _rev(**changes: object) -> Revision:
    base = Revision(revision="", app_id=APP, entry="app.py::Figlet", archive="file")
    return Revision(**{**base.__dict__, **changes})  # type: ignore[arg-type]


async def test_a_deploy_stores_the_revision_and_points_the_app_at_it(store: Store) -> None:
    r1 = await store.add_revision(_rev(requirements=["pyfiglet==1.0.2"], env_key="k1"), b"src1")
    assert r1.revision and r1.created_at > 0 and r1.state is RevisionState.BUILDING
    assert await store.revision_source(r1.revision) == b"src1"
    dep = await store.get_deployment(APP)
    assert dep is not None and dep.current == r1.revision and dep.live is None
    await store.mark_live(APP, r1.revision)
    r2 = await store.add_revision(_rev(), b"src2", owner="alice")
    dep = await store.get_deployment(APP)
    assert dep is not None and (dep.current, dep.live) == (r2.revision, r1.revision)
    assert [r.revision for r in await store.list_revisions(APP)] == [r1.revision, r2.revision]
    got = await store.get_revision(r1.revision)
    assert got is not None and got.state is RevisionState.LIVE
    assert got.requirements == ["pyfiglet==1.0.2"]


async def test_a_failed_revision_gives_the_app_back_to_the_one_that_served(
    store: Store,
) -> None:
    r1 = await store.add_revision(_rev(), b"1")
    await store.mark_live(APP, r1.revision)
    r2 = await store.add_revision(_rev(), b"2")
    failed = await store.fail_revision(r2.revision, "No solution found for nosuchpackage")
    assert failed is not None and failed.state is RevisionState.FAILED
    assert failed.error is not None and "nosuchpackage" in failed.error
    dep = await store.get_deployment(APP)
    assert dep is not None and dep.current == r1.revision
    # set-rev back to the failed one retries it
    dep = await store.set_current_revision(APP, r2.revision)
    assert dep.current == r2.revision
    again = await store.get_revision(r2.revision)
    assert again is not None and again.state is RevisionState.BUILDING
    with pytest.raises(KeyError):
        await store.set_current_revision(APP, "nope")


async def test_described_settings_and_scaling(store: Store) -> None:
    r1 = await store.add_revision(_rev(), b"1")
    await store.update_revision(r1.revision, settings={"keep_alive": 5}, endpoints={"": {}})
    got = await store.get_revision(r1.revision)
    assert got is not None and got.settings == {"keep_alive": 5} and got.endpoints == {"": {}}
    dep = await store.set_scaling(APP, {"min_concurrency": 1, "keep_alive": 30})
    assert dep.scaling == {"min_concurrency": 1, "keep_alive": 30}
    dep = await store.set_scaling(APP, {"keep_alive": None, "max_concurrency": 4})
    assert dep.scaling == {"min_concurrency": 1, "max_concurrency": 4}
    assert dep.current == r1.revision


async def test_delete_forgets_revisions_and_sources(store: Store) -> None:
    r1 = await store.add_revision(_rev(), b"1")
    await store.append_lines(f"build:{r1.revision}", ["Resolved 1 package"])
    assert await store.delete_deployment(APP)
    assert await store.get_deployment(APP) is None
    assert await store.get_revision(r1.revision) is None
    assert await store.revision_source(r1.revision) is None
    assert await store.get_lines(f"build:{r1.revision}") == []
    assert await store.list_deployments() == []


async def test_secrets_hold_only_what_they_were_given(store: Store) -> None:
    first = await store.put_secret("HF_TOKEN", "gAAAA-cipher-1")
    again = await store.put_secret("HF_TOKEN", "gAAAA-cipher-2")
    assert again.created_at == first.created_at and again.updated_at >= first.updated_at
    await store.put_secret("API_KEY", "gAAAA-cipher-3")
    listed = await store.list_secrets()
    assert [s.name for s in listed] == ["API_KEY", "HF_TOKEN"]
    assert listed[1].ciphertext == "gAAAA-cipher-2"
    assert "ciphertext" not in listed[1].public() and "cipher" not in repr(listed[1])
    assert await store.delete_secret("API_KEY")
    assert not await store.delete_secret("API_KEY")


async def test_line_logs_keep_their_newest_lines_by_absolute_index(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.append_lines("runner:r1", ["a", "b"])
    await store.append_lines("runner:r1", ["c"])
    assert await store.get_lines("runner:r1") == ["a", "b", "c"]
    assert await store.get_lines("runner:r1", since=2) == ["c"]
    await store._log_append("runner:r1", ["d", "e"], 3)
    assert await store.get_lines("runner:r1") == ["c", "d", "e"]
    assert await store.get_lines("runner:r1", since=4) == ["e"]
    await store.delete_lines("runner:r1")
    assert await store.get_lines("runner:r1") == []
    await store.append_lines("runner:r1", ["again"])
    assert await store.get_lines("runner:r1") == ["again"]


# memory:// keeps nothing beyond its process (documented), so only the shared backends
@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_deployments_survive_a_new_store_on_the_same_data(
    make_store: StoreFactory, backend: str
) -> None:
    first = await make_store()
    r1 = await first.add_revision(_rev(), b"source")
    await first.set_scaling(APP, {"min_concurrency": 1})
    await first.put_secret("TOKEN", "cipher")
    second = await make_store()
    dep = await second.get_deployment(APP)
    assert dep is not None and dep.current == r1.revision and dep.scaling == {"min_concurrency": 1}
    assert await second.revision_source(r1.revision) == b"source"
    assert [s.name for s in await second.list_secrets()] == ["TOKEN"]


async def test_a_runner_kill_is_handed_out_once(store: Store) -> None:
    await store.request_kill("r1")
    await store.request_kill("r2")
    assert await store.take_kills({"r9"}) == []
    assert await store.take_kills({"r1", "r3"}) == ["r1"]
    assert await store.take_kills({"r1"}) == []
    assert await store.take_kills({"r2"}) == ["r2"]


async def test_a_deploy_change_wakes_the_deployers_wait(
    make_store: StoreFactory, backend: str
) -> None:
    """A worker's Deployer sleeps on wait_for_deploy_change: a change made meanwhile (in
    this process, or on a shared backend in another) wakes it long before its timeout,
    and one made while it was busy is not lost."""
    worker = await make_store()
    admin = await make_store() if backend == "redis" else worker
    await worker.wait_for_deploy_change(0.01)  # listening from now on
    started = time.monotonic()
    waiting = asyncio.create_task(worker.wait_for_deploy_change(60))
    await asyncio.sleep(0)
    await admin.set_scaling(APP, {"min_concurrency": 1})
    await asyncio.wait_for(waiting, 30)
    await admin.request_kill("runner-1")  # while nobody waits: the next wait returns at once
    await asyncio.wait_for(worker.wait_for_deploy_change(60), 30)
    assert time.monotonic() - started < 30
