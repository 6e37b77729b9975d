"""The playground where keys exist: it asks for one, keeps it in the browser only, and a
user sees only their own requests."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.harness import Serve

from .conftest import shot


def test_401_without_a_key_and_only_ones_own_requests_with_one(page: Page, keyed: Serve) -> None:
    alice, bob = keyed.create_key("alice"), keyed.create_key("bob")
    with httpx.Client(base_url=keyed.url, timeout=60) as c:
        theirs = c.post(
            "/queue/openfal/echo",
            json={"message": "bob's"},
            headers={"authorization": f"Key {bob}"},
        ).json()["request_id"]

    page.goto(f"{keyed.url}/")
    assert page.request.get(f"{keyed.url}/rest/requests").status == 401
    assert page.request.get(f"{keyed.url}/rest/catalog").status == 401
    dialog = page.locator("#key-dialog")
    expect(dialog).to_be_visible()
    expect(page.locator("#who")).to_have_text("no key")
    expect(page.locator(".locked")).to_contain_text("needs an API key")
    shot(page, "key")

    page.fill("#key-input", "nokey:" + "0" * 64)
    page.click("#key-save")
    expect(dialog).to_be_visible()
    expect(page.locator("#key-why")).to_contain_text("refused")

    page.fill("#key-input", alice)
    page.click("#key-save")
    expect(dialog).to_be_hidden()
    expect(page.locator("#who")).to_have_text("alice (API)")
    assert page.evaluate("localStorage.getItem('openfal.key')") == alice

    page.locator("article.app[data-app='openfal/echo'] li.endpoint a", has_text="/").first.click()
    page.fill("[data-field=message] input", "alice's")
    page.click("#run")
    expect(page.locator(".output .result .text pre")).to_have_text("alice's")
    mine = page.inner_text(".output .status a")

    page.reload()  # the key stays in this browser
    page.click("header nav a:text('Requests')")
    expect(page.locator(f"tr[data-request='{mine}']")).to_be_visible()
    expect(page.locator("table.history tbody tr")).to_have_count(1)
    expect(page.locator(f"tr[data-request='{theirs}']")).to_have_count(0)
    page.goto(f"{keyed.url}/#/requests/{theirs}")
    expect(page.locator("p.error")).to_contain_text("404")

    page.click("#key-button")
    page.click("#key-forget")
    page.wait_for_function("() => localStorage.getItem('openfal.key') === null")
    expect(page.locator("#key-dialog")).to_be_visible()
