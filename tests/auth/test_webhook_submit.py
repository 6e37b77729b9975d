"""Webhook URLs at submit: ``?fal_webhook=``, ``webhook_url`` in the body, and refusals."""

from __future__ import annotations

import json

from openfal.gateway.webhooks import WebhookSettings
from openfal.store import AppRecord, WebhookState

from .conftest import ECHO, Gateway, GatewayFactory

HOOK = "http://127.0.0.1:9/hook"  # allow-listed in the fixture; nothing is called here


async def test_fal_webhook_query_is_stored_with_an_outbox_entry(gw: Gateway) -> None:
    alice = await gw.key("alice", "alice")
    sub = await gw.submit(alice, params={"fal_webhook": HOOK})
    rec = await gw.store.get(sub["request_id"])
    assert rec is not None and rec.webhook_url == HOOK
    wh = await gw.store.get_webhook(rec.id)
    assert wh is not None and (wh.url, wh.user, wh.state) == (HOOK, "alice", WebhookState.WAITING)


async def test_webhook_url_in_the_body_is_taken_out_of_the_input(gw: Gateway) -> None:
    r = await gw.client.post(f"/queue/{ECHO}", json={"message": "hi", "webhook_url": HOOK})
    assert r.status_code == 200, r.text
    rec = await gw.store.get(r.json()["request_id"])
    assert rec is not None and rec.webhook_url == HOOK
    assert json.loads(rec.input) == {"message": "hi"}


async def test_the_query_wins_over_the_body(gw: Gateway) -> None:
    r = await gw.client.post(
        f"/queue/{ECHO}",
        params={"fal_webhook": HOOK},
        json={"message": "hi", "webhook_url": "http://127.0.0.1:9/other"},
    )
    rec = await gw.store.get(r.json()["request_id"])
    assert rec is not None and rec.webhook_url == HOOK
    assert json.loads(rec.input) == {"message": "hi"}


async def test_an_endpoint_that_declares_webhook_url_keeps_it(gw: Gateway) -> None:
    schema = {
        "type": "object",
        "properties": {"webhook_url": {"type": "string"}, "prompt": {"type": "string"}},
    }
    await gw.store.register_app(
        AppRecord(
            app_id="acme/notifier",
            source="x.py::Notifier",
            endpoints={"": {"input_schema": schema}},
        )
    )
    r = await gw.client.post("/queue/acme/notifier", json={"prompt": "p", "webhook_url": HOOK})
    assert r.status_code == 200, r.text
    rec = await gw.store.get(r.json()["request_id"])
    assert rec is not None and rec.webhook_url is None
    assert json.loads(rec.input) == {"prompt": "p", "webhook_url": HOOK}


async def test_private_and_bad_urls_are_400_naming_the_field(make_gateway: GatewayFactory) -> None:
    gw = await make_gateway(webhooks=WebhookSettings(allow=()))
    cases = [
        ({"fal_webhook": "http://127.0.0.1:8000/h"}, None, "fal_webhook", "is loopback"),
        ({"fal_webhook": "http://169.254.169.254/latest"}, None, "fal_webhook", "metadata"),
        ({"fal_webhook": "ftp://example.com/x"}, None, "fal_webhook", "not http or https"),
        ({}, "http://10.1.2.3/h", "webhook_url", "is private"),
        ({}, 42, "webhook_url", "must be a string"),
    ]
    for params, body_url, field, why in cases:
        body = {"message": "hi"} if body_url is None else {"message": "hi", "webhook_url": body_url}
        r = await gw.client.post(f"/queue/{ECHO}", params=params, json=body)
        assert r.status_code == 400, (params, body_url, r.text)
        detail = r.json()["detail"]
        assert detail.startswith(f"Invalid {field}") and why in detail, detail
        assert r.json()["error_type"] == "bad_request"
        if "is " in why:  # a refused address names the option that allows it
            assert "--webhook-allow" in detail, detail
    assert await gw.store.list_requests() == []  # nothing was queued
