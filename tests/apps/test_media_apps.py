"""fal-ai/whisper, fal-ai/any-llm and fal-ai/ltx-video end to end through ``openfal serve``."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import httpx
import pytest

from tests.e2e.harness import Serve, wait_for

from .conftest import MAX_VIDEO_FRAMES, call, file_bytes
from .openai_server import OpenAIServer, reply_text

pytestmark = pytest.mark.e2e


def test_whisper_transcribes_speech_from_a_data_uri(client: httpx.Client, hello_wav: Path) -> None:
    audio = "data:audio/wav;base64," + base64.b64encode(hello_wav.read_bytes()).decode()
    out = call(client, "fal-ai/whisper", {"audio_url": audio})
    assert "hello world" in out["text"].lower()
    assert out["inferred_languages"] == ["en"]
    assert out["demo_weights"] is True
    [chunk] = out["chunks"]
    start, end = chunk["timestamp"]
    assert 0 <= start < end <= 2.0
    assert "hello world" in chunk["text"].lower()


def test_whisper_reads_an_upload_with_word_chunks(client: httpx.Client, hello_wav: Path) -> None:
    uploaded = client.post(
        "/rest/storage/upload",
        content=hello_wav.read_bytes(),
        headers={"content-type": "audio/wav", "x-fal-file-name": "hello.wav"},
    )
    assert uploaded.status_code == 200, uploaded.text
    url = uploaded.json()["url"]
    out = call(client, "fal-ai/whisper", {"audio_url": url, "chunk_level": "word"})
    words = [chunk["text"].strip(" .").lower() for chunk in out["chunks"]]
    assert words == ["hello", "world"]
    assert out["chunks"][0]["timestamp"][1] <= out["chunks"][1]["timestamp"][0]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"language": "fr"}, "language"),
        ({"task": "translate"}, "task"),
        ({"diarize": True}, "diarize"),
    ],
)
def test_whisper_refuses_what_the_model_cannot_do(
    client: httpx.Client, hello_wav: Path, body: dict[str, object], field: str
) -> None:
    audio = "data:audio/wav;base64," + base64.b64encode(hello_wav.read_bytes()).decode()
    detail = call(client, "fal-ai/whisper", {"audio_url": audio, **body}, status=422)["detail"]
    assert detail[0]["loc"] == ["body", field]


def test_any_llm_unknown_model_runs_on_the_default(apps_server: Serve) -> None:
    with httpx.Client(base_url=apps_server.url, timeout=110) as http:
        body = {"prompt": "hello", "system_prompt": "be brief", "model": "google/gemini-flash-1.5"}
        submitted = http.post("/queue/fal-ai/any-llm", json=body).json()

        def completed() -> dict[str, object] | None:
            status = http.get(submitted["status_url"], params={"logs": 1}).json()
            return status if status["status"] == "COMPLETED" else None

        status = wait_for(completed, 100, interval=0.1, what="the completion")
        out = http.get(submitted["response_url"]).json()
    assert isinstance(out["output"], str)
    assert (out["partial"], out["error"], out["demo_weights"]) == (False, None, True)
    logs = [entry["message"] for entry in status["logs"]]
    assert "model 'google/gemini-flash-1.5' is not configured here; answering with 'local'" in logs


def test_any_llm_forwards_configured_models(
    client: httpx.Client, openai_server: OpenAIServer
) -> None:
    body = {"prompt": "forward me", "model": "test/forwarded", "max_tokens": 7}
    out = call(client, "fal-ai/any-llm", body)
    messages = [{"role": "user", "content": "forward me"}]
    assert out["output"] == reply_text("served-model", messages)
    assert (out["partial"], out["demo_weights"]) == (False, False)
    assert openai_server.requests[-1] == {
        "model": "served-model",
        "messages": messages,
        "stream": True,
        "max_tokens": 7,
    }


def test_ltx_video_returns_a_playable_mp4(client: httpx.Client) -> None:
    import av

    body = {"prompt": "waves", "duration": 1, "aspect_ratio": "16:9", "num_inference_steps": 2}
    out = call(client, "fal-ai/ltx-video", {**body, "seed": 9})
    assert out["seed"] == 9
    assert out["demo_weights"] is True
    video = out["video"]
    assert video["content_type"] == "video/mp4"
    data = file_bytes(client, video["url"])
    assert len(data) == video["file_size"]
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        size = (stream.codec_context.width, stream.codec_context.height)
    assert frames == MAX_VIDEO_FRAMES  # 1 s at 24 fps is 25 frames, capped by the operator
    assert size == (768, 448)
    portrait = call(client, "fal-ai/ltx-video", {**body, "aspect_ratio": "9:16", "seed": 9})
    with av.open(io.BytesIO(file_bytes(client, portrait["video"]["url"]))) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (448, 768)


@pytest.mark.parametrize(
    ("app", "body", "field"),
    [
        ("fal-ai/whisper", {}, "audio_url"),
        ("fal-ai/fast-sdxl/image-to-image", {"prompt": "x"}, "image_url"),
        ("fal-ai/lcm-sd15-i2i", {"prompt": "x"}, "image_url"),
    ],
)
@pytest.mark.parametrize("media", ["data:text/plain,hello", "data:audio/wav;base64,AAAA"])
def test_undecodable_media_is_a_422_naming_the_field(
    client: httpx.Client, app: str, body: dict[str, object], field: str, media: str
) -> None:
    detail = call(client, app, {**body, field: media}, status=422)["detail"]
    assert detail[0]["loc"] == ["body", field], detail
