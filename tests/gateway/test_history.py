"""``GET /rest/requests`` and ``GET /rest/requests/{id}``: scoping, filters, cursor pages,
the full record, and clear 400s for bad parameters."""

from __future__ import annotations

from typing import Any

import pytest

from openfal.store import KeyScope, LogEntry
from tests.auth.conftest import ECHO, Gateway, GatewayFactory, make_gateway  # noqa: F401


@pytest.fixture
async def gw(make_gateway: GatewayFactory) -> Gateway:  # noqa: F811 - the imported fixture
    return await make_gateway()


async def _pages(gw: Gateway, headers: dict[str, str], **params: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        r = await gw.client.get("/rest/requests", params=query, headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"items", "next_cursor"}
        pages.append([item["request_id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


async def test_users_see_their_own_requests_and_admin_sees_all(gw: Gateway) -> None:
    admin = await gw.key("admin", "root", KeyScope.ADMIN)
    alice, bob = await gw.key("alice", "alice"), await gw.key("bob", "bob")
    mine = [(await gw.submit(alice))["request_id"] for _ in range(3)]
    theirs = [(await gw.submit(bob))["request_id"] for _ in range(2)]
    direct = await gw.store.enqueue(ECHO, "", b"{}", mode="run", owner="alice")
    streamed = await gw.store.enqueue(ECHO, "", b"{}", mode="stream", owner="bob")

    assert await _pages(gw, alice) == [[direct.id, *mine[::-1]]]
    assert await _pages(gw, bob, limit=2) == [[streamed.id, theirs[1]], [theirs[0]]]
    assert await _pages(gw, alice, owner="bob") == [[direct.id, *mine[::-1]]]  # not hers
    assert await _pages(gw, admin, owner="bob") == [[streamed.id, *theirs[::-1]]]
    everyone = [streamed.id, direct.id, *theirs[::-1], *mine[::-1]]
    assert [i for p in await _pages(gw, admin, limit=3) for i in p] == everyone

    r = await gw.client.get("/rest/requests", headers=admin)
    modes = {item["request_id"]: item["mode"] for item in r.json()["items"]}
    assert (modes[direct.id], modes[streamed.id], modes[mine[0]]) == ("run", "stream", "queue")

    assert (await gw.client.get(f"/rest/requests/{theirs[0]}", headers=alice)).status_code == 404
    assert (await gw.client.get(f"/rest/requests/{theirs[0]}", headers=admin)).status_code == 200
    assert (await gw.client.get("/rest/requests")).status_code == 401


async def test_filters_by_app_status_and_time(gw: Gateway) -> None:
    first = (await gw.submit({}))["request_id"]
    errored = (await gw.store.enqueue("openfal/errors", "boom", b"{}")).id
    claimed = await gw.store.claim([ECHO, "openfal/errors"], "w1")
    assert claimed is not None and claimed.id == first
    await gw.finish(first)

    async def ids(**params: Any) -> list[str]:
        r = await gw.client.get("/rest/requests", params=params)
        assert r.status_code == 200, r.text
        return [item["request_id"] for item in r.json()["items"]]

    assert await ids(app_id=ECHO) == [first]
    assert await ids(app_id="openfal/errors") == [errored]
    assert await ids(status="COMPLETED") == [first]
    assert await ids(status="in_queue") == [errored]
    assert await ids(since="1h") == [errored, first]
    assert await ids(until="2000-01-01T00:00:00Z") == []
    assert await ids(since="2000-01-01T00:00:00", until="1e12") == [errored, first]


async def test_one_request_in_full(gw: Gateway) -> None:
    sub = await gw.submit({})
    rid = sub["request_id"]
    claimed = await gw.store.claim([ECHO], "worker-7")
    assert claimed is not None
    await gw.store.append_logs(rid, [LogEntry("loading", timestamp="t1"), LogEntry("done")])
    await gw.store.publish_event(rid, b'{"partial": 1}')
    await gw.finish(rid, b'{"message": "hi back"}')

    r = await gw.client.get(f"/rest/requests/{rid}")
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["request_id"] == rid and got["endpoint"] == ECHO and got["status"] == "COMPLETED"
    assert got["input"] == {"message": "hi"}
    assert got["output"] == {"message": "hi back"}
    assert [e["message"] for e in got["logs"]] == ["loading", "done"]
    assert got["events"] == [{"partial": 1}]
    assert got["attempts"] == {"count": 1, "worker_id": "worker-7", "cancel_requested": False}
    timings = got["timings"]
    assert timings["created_at"].endswith("Z") and timings["completed_at"].endswith("Z")
    assert timings["queue_seconds"] >= 0 and timings["run_seconds"] >= 0
    assert got["webhook"] is None
    assert (await gw.client.get("/rest/requests/nope")).status_code == 404


async def test_webhook_deliveries_are_part_of_the_record(gw: Gateway) -> None:
    url = "http://127.0.0.1:9/hook"
    r = await gw.client.post(f"/queue/{ECHO}", params={"fal_webhook": url}, json={"message": "x"})
    assert r.status_code == 200, r.text
    got = (await gw.client.get(f"/rest/requests/{r.json()['request_id']}")).json()
    assert got["webhook"]["url"] == url and got["webhook"]["state"] == "WAITING"


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"status": "DONE"}, "Invalid status 'DONE'"),
        ({"limit": "0"}, "Invalid limit '0'"),
        ({"limit": "5000"}, "Invalid limit '5000'"),
        ({"since": "yesterday"}, "Invalid since 'yesterday'"),
        ({"until": "12:xx"}, "Invalid until '12:xx'"),
        ({"cursor": "!!!"}, "Invalid cursor"),
    ],
)
async def test_bad_parameters_are_400_naming_them(
    gw: Gateway, params: dict[str, str], words: str
) -> None:
    r = await gw.client.get("/rest/requests", params=params)
    assert r.status_code == 400, r.text
    assert words in r.json()["detail"]
