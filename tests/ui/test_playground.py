"""The playground end to end: a user finds an app, runs it from its generated form, sees
live status, logs and the rendered result, uploads a file, cancels, reads the history."""

from __future__ import annotations

import base64
import io
import json
import re
import wave
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.harness import Serve

from .conftest import shot


def open_endpoint(page: Page, s: Serve, app: str, path: str = "/") -> None:
    page.goto(f"{s.url}/")
    page.fill("input.search", app)
    card = page.locator(f"article.app[data-app='{app}']")
    expect(card).to_be_visible()
    card.locator("li.endpoint a", has_text=re.compile(f"^{re.escape(path)}$")).click()
    expect(page.locator("form.endpoint-form")).to_be_visible()


def status_badge(page: Page) -> object:
    return page.locator(".output .status .badge")


def test_find_echo_fill_its_form_run_and_see_the_output(page: Page, playground: Serve) -> None:
    page.goto(f"{playground.url}/")
    expect(page.locator("article.app")).to_have_count(7)
    shot(page, "apps")
    page.fill("input.search", "openfal/echo")
    expect(page.locator("article.app")).to_have_count(1)
    page.locator("article.app[data-app='openfal/echo'] li.endpoint a", has_text="/upper").click()
    page.fill("[data-field=message] input", "hello playground")
    page.click("#run")
    expect(page.locator(".output .result .text pre")).to_have_text("HELLO PLAYGROUND")
    expect(status_badge(page)).to_have_text("COMPLETED")

    open_endpoint(page, playground, "openfal/echo")
    page.fill("[data-field=message] input", "ab")
    page.click("details.advanced summary")
    page.fill("[data-field=repeat] input[type=number]", "3")
    page.click("text=Code")
    expect(page.locator("pre.snippet")).to_contain_text('"repeat": 3')
    expect(page.locator("pre.snippet")).to_contain_text(f'use_server("{playground.url}")')
    shot(page, "code")
    page.click(".code-tabs button:text('JavaScript')")
    expect(page.locator("pre.snippet")).to_contain_text(f"{playground.url}/api/fal/proxy")
    page.click(".code-tabs button:text('curl')")
    expect(page.locator("pre.snippet")).to_contain_text(f"{playground.url}/queue/openfal/echo")
    page.click(".tabs button:text('Form')")
    page.click("#run")
    expect(page.locator(".output .result .text pre")).to_have_text("ababab")
    shot(page, "endpoint")


def test_upload_a_file_through_a_file_input(page: Page, playground: Serve, tmp_path: Path) -> None:
    sample = tmp_path / "notes.txt"
    sample.write_text("these bytes went through the storage API\n")
    open_endpoint(page, playground, "test/file-input")
    page.locator("[data-field=file_url] input[type=file]").set_input_files(str(sample))
    state = page.locator("[data-field=file_url] .upload-state")
    expect(state).to_contain_text("uploaded notes.txt")
    url = page.input_value("[data-field=file_url] input[type=url]")
    assert url.startswith(f"{playground.url}/files/") and url.endswith("notes.txt")
    page.click("#run")
    expect(status_badge(page)).to_have_text("COMPLETED")
    raw = page.locator(".output details.raw pre")
    expect(raw).to_contain_text(f'"received": "{url}"')
    expect(raw).to_contain_text('"size": 41')
    expect(page.locator(".output pre.logs")).to_contain_text(f"read 41 bytes from {url}")

    # the same field takes a dropped file
    page.locator("[data-field=file_url] .dropzone").evaluate(
        """zone => {
            const data = new DataTransfer();
            data.items.add(new File(["dropped bytes"], "dropped.txt", {type: "text/plain"}));
            zone.dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true}));
        }"""
    )
    expect(state).to_contain_text("uploaded dropped.txt (13 bytes)")
    dropped = page.input_value("[data-field=file_url] input[type=url]")
    assert dropped.endswith("dropped.txt") and dropped != url
    page.click("#run")
    expect(page.locator(".output details.raw pre")).to_contain_text('"head": "dropped bytes"')


def test_cancel_a_slow_request_from_the_page(page: Page, playground: Serve) -> None:
    open_endpoint(page, playground, "test/sleeper", "/progress")
    page.fill("[data-field=seconds] input[type=number]", "120")
    page.click("#run")
    expect(status_badge(page)).to_have_text("IN_PROGRESS")
    expect(page.locator(".output progress")).to_be_visible()  # report_progress drives it
    page.wait_for_function("() => document.querySelector('.output progress').value > 5")
    shot(page, "running")
    page.click(".output button.danger")
    expect(status_badge(page)).to_have_text(re.compile("cancel", re.I))
    expect(page.locator(".output div.error")).to_contain_text("Error 499")
    request_id = page.inner_text(".output .status a")
    with httpx.Client(base_url=playground.url) as c:
        done = c.get(f"/rest/requests/{request_id}").json()
    assert done["status"] == "COMPLETED" and "cancel" in done["error_type"]
    assert done["run_seconds"] < 100


def test_open_a_request_in_history_and_see_its_logs(page: Page, playground: Serve) -> None:
    open_endpoint(page, playground, "openfal/prints-logs")
    page.fill("[data-field=steps] input[type=number]", "2")
    page.click("#run")
    expect(status_badge(page)).to_have_text("COMPLETED")
    request_id = page.inner_text(".output .status a")

    page.click("header nav a:text('Requests')")
    row = page.locator(f"tr[data-request='{request_id}']")
    expect(row).to_be_visible()
    page.select_option("select[name=status]", "COMPLETED")
    expect(row).to_be_visible()
    shot(page, "requests")
    row.locator("a").click()
    logs = page.locator("pre.logs")
    expect(logs).to_contain_text(f"main {request_id}")
    expect(logs).to_contain_text(f"stderr {request_id}")
    expect(page.locator("table.kv")).to_contain_text("waited in queue")
    shot(page, "request")
    page.click("text=Re-run in the form")
    expect(page.locator("[data-field=steps] input[type=number]")).to_have_value("2")


def test_runners_and_queues(page: Page, playground: Serve) -> None:
    with httpx.Client(base_url=playground.url, timeout=60) as c:
        assert c.post("/openfal/echo", json={"message": "warm"}).status_code == 200
    page.goto(f"{playground.url}/#/runners")
    expect(page.locator("table.runners tr[data-app='openfal/echo']").first).to_contain_text("READY")
    expect(page.locator("table.queues tr[data-app='test/sleeper']")).to_be_visible()
    shot(page, "runners")


def test_a_realtime_endpoint_shows_frames(page: Page, playground: Serve) -> None:
    page.goto(f"{playground.url}/")
    page.fill("input.search", "live")
    page.locator("article.app[data-app='test/live'] li.endpoint a", has_text="/short").click()
    page.click("button:text('Connect')")
    expect(page.locator(".badge", has_text="OPEN")).to_be_visible()
    page.fill("[data-field=prompt] textarea", "frame one")
    page.click("button:text('Send')")
    page.fill("[data-field=prompt] textarea", "frame two")
    page.click("button:text('Send')")
    expect(page.locator(".frame")).to_have_count(2)
    expect(page.locator(".frame").first).to_contain_text("frame two")
    shot(page, "realtime")


def test_an_image_app_on_demo_weights_renders_its_image(page: Page, image_server: Serve) -> None:
    open_endpoint(page, image_server, "fal-ai/flux", "/schnell")
    page.fill("[data-field=prompt] textarea", "a lighthouse at dusk")
    page.click("details.advanced summary")
    page.select_option("[data-field=image_size] select", "custom")
    page.fill("[data-field=image_size] input[aria-label=width]", "128")
    page.fill("[data-field=image_size] input[aria-label=height]", "96")
    page.fill("[data-field=num_inference_steps] input[type=number]", "1")
    page.click("#run")
    image = page.locator(".output .gallery img")
    expect(image).to_be_visible(timeout=300_000)  # the first call builds the demo pipeline
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    assert image.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [128, 96]
    shot(page, "image")


def test_the_form_sends_every_kind_of_field(page: Page, playground: Serve) -> None:
    open_endpoint(page, playground, "test/form-kinds")
    page.fill("[data-field=prompt] textarea", "a cat")
    page.fill("[data-field=label] input", "nested")
    page.click("details.advanced summary")
    page.select_option("[data-field=style] select", label="fancy")
    page.check("[data-field=loud] input")
    page.locator("[data-field=count] input[type=range]").fill("7")  # the slider sets it
    expect(page.locator("[data-field=count] input[type=number]")).to_have_value("7")
    for tag in ("red", "blue"):
        page.click("[data-field=tags] button:text('+ add')")
        page.locator("[data-field=tags] .array-item input").last.fill(tag)
    page.select_option("[data-field=image_size] select", "portrait_16_9")
    page.click("#run")
    expect(status_badge(page)).to_have_text("COMPLETED")
    got = json.loads(page.inner_text(".output details.raw pre"))["got"]
    assert got == {
        "prompt": "a cat",
        "style": "fancy",
        "loud": True,
        "count": 7,
        "seed": None,
        "tags": ["red", "blue"],
        "inner": {"label": "nested", "weight": 0.5},
        "image_size": "portrait_16_9",
    }


def _wav_data_uri() -> str:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\x00\x10" * 4000)  # half a second
    return "data:audio/wav;base64," + base64.b64encode(buffer.getvalue()).decode()


def test_audio_and_video_outputs_get_players(page: Page, playground: Serve) -> None:
    # a file of this server is checked at submit (it must exist and be the caller's): upload one
    with httpx.Client(base_url=playground.url, timeout=60) as c:
        clip = c.post(
            "/rest/storage/upload?file_name=clip.mp4",
            content=b"\x00\x00\x00\x18ftypmp42",
            headers={"content-type": "video/mp4"},
        )
    assert clip.status_code == 200, clip.text
    clip_url = clip.json()["url"]
    open_endpoint(page, playground, "test/file-output")
    page.fill("[data-field=url] input[type=url]", clip_url)
    page.click("[data-field=urls] button:text('+ add')")
    page.locator("[data-field=urls] .array-item input[type=url]").fill(_wav_data_uri())
    page.click("#run")
    expect(status_badge(page)).to_have_text("COMPLETED")
    expect(page.locator(".output .result video")).to_have_attribute("src", clip_url)
    audio = page.locator(".output .result audio")
    page.wait_for_function("a => a.duration > 0.4", arg=audio.element_handle())
