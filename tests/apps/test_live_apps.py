"""Streaming (fal-ai/any-llm /stream) and realtime (fal-ai/lcm-sd15-i2i /realtime) through
``openfal serve``, with the official ``fal-client``."""

from __future__ import annotations

import base64
import io
from itertools import pairwise
from typing import Any

import fal_client
import httpx
import pytest
from PIL import Image

from tests.e2e.harness import Serve
from tests.realtime.conftest import point_fal_client

from .conftest import call, png_data_uri
from .openai_server import OpenAIServer, reply_text

pytestmark = pytest.mark.e2e


@pytest.fixture
def fal(apps_server: Serve, monkeypatch: pytest.MonkeyPatch) -> Serve:
    point_fal_client(monkeypatch, apps_server)
    return apps_server


def _check_stream(events: list[dict[str, Any]]) -> str:
    """Partial events growing one on the other, then one final event; its output."""
    assert len(events) >= 2
    assert [e["partial"] for e in events] == [True] * (len(events) - 1) + [False]
    outputs = [e["output"] for e in events]
    assert all(later.startswith(earlier) for earlier, later in pairwise(outputs))
    assert outputs[-1] == outputs[-2]  # the final event repeats the whole answer
    return outputs[-1]


def test_any_llm_streams_partials_then_the_whole_answer(fal: Serve, client: httpx.Client) -> None:
    body = {"prompt": "count to five", "temperature": 0, "max_tokens": 16}
    events = list(fal_client.stream("fal-ai/any-llm", arguments=body))
    answer = _check_stream(events)
    assert answer  # greedy decoding of 16 tokens from the demo model
    assert all(event["demo_weights"] for event in events)
    whole = call(client, "fal-ai/any-llm", body)  # a direct run answers the last item
    assert (whole["output"], whole["partial"]) == (answer, False)


def test_any_llm_streams_a_forwarded_model(fal: Serve, openai_server: OpenAIServer) -> None:
    body = {"prompt": "stream me", "system_prompt": "terse", "model": "fwd"}
    events = list(fal_client.stream("fal-ai/any-llm", arguments=body))
    messages = [{"role": "system", "content": "terse"}, {"role": "user", "content": "stream me"}]
    assert _check_stream(events) == reply_text("served-model", messages)
    assert len(events) == 5  # four chunks from the server, then the final event
    assert not events[-1]["demo_weights"]


def _seed_and_size(output: dict[str, Any]) -> tuple[int, tuple[int, int]]:
    [image] = output["images"]
    assert image["url"].startswith("data:image/jpeg;base64,")
    data = base64.b64decode(image["url"].partition(",")[2])
    return output["seed"], Image.open(io.BytesIO(data)).size


def test_lcm_realtime_answers_frames_and_keeps_only_the_newest(fal: Serve) -> None:
    frame = {
        "prompt": "a watercolor",
        "image_url": png_data_uri(96, 64, (30, 60, 200)),
        "strength": 0.5,
        "num_inference_steps": 2,
    }
    with fal_client.realtime("fal-ai/lcm-sd15-i2i") as connection:
        connection.send({**frame, "seed": 100})
        first = connection.recv()
        assert _seed_and_size(first) == (100, (96, 64))
        assert first["nsfw_content_detected"] == [False]
        # Six frames sent within milliseconds, each taking the pipeline 8 steps at 256 px:
        # the frame in progress is answered, and only the newest waiting one after it.
        slow = {**frame, "image_url": png_data_uri(256, 256, (9, 9, 9)), "strength": 1.0}
        for seed in range(1, 7):
            connection.send({**slow, "seed": seed, "num_inference_steps": 8})
        seeds = []
        while not seeds or seeds[-1] != 6:
            seeds.append(_seed_and_size(connection.recv())[0])
    assert len(seeds) < 6
    assert seeds == sorted(seeds)
    assert set(seeds) <= set(range(1, 7))


def test_lcm_camera_sessions_share_one_runner(fal: Serve, client: httpx.Client) -> None:
    frame = {
        "prompt": "a sketch",
        "image_url": png_data_uri(64, 64, (120, 120, 0)),
        "strength": 0.5,
        "num_inference_steps": 2,
    }
    with (
        fal_client.realtime("fal-ai/lcm-sd15-i2i") as first,
        fal_client.realtime("fal-ai/lcm-sd15-i2i") as second,
    ):
        first.send({**frame, "seed": 21})
        second.send({**frame, "seed": 22})
        assert _seed_and_size(second.recv()) == (22, (64, 64))
        assert _seed_and_size(first.recv()) == (21, (64, 64))
        # an HTTP request meanwhile takes its turn on the same pipeline
        assert call(client, "fal-ai/lcm-sd15-i2i", {**frame, "seed": 23})["seed"] == 23
    runners = [
        r for r in client.get("/rest/runners").json() if r["app_id"] == "fal-ai/lcm-sd15-i2i"
    ]
    assert len(runners) == 1
