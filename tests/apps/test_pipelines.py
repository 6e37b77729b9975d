"""The pipeline layer in-process: settings, demo weights, progress/cancel, safety, LLM, MP4."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from openfal.apps._pipelines import (
    ChatParams,
    LocalChat,
    OpenAIChat,
    SafetyChecker,
    StepProgress,
    choose_placement,
    encode_mp4,
    fit_size,
    load_pipeline,
    quiet_libraries,
    resolve_weights,
    seeded_generator,
)
from openfal.apps._settings import AppsSettings, ForwardedModel, settings
from openfal.sdk import AppException, RequestCancelled, RequestContext, bind_request

from .checker import flag_everything_checker
from .openai_server import OpenAIServer, reply_text


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> AppsSettings:
    import torch

    torch.set_num_threads(1)  # see conftest.py: a shared 2-core machine
    quiet_libraries()
    return settings({"OPENFAL_DATA_DIR": str(tmp_path_factory.mktemp("apps-data"))})


def test_settings_from_file_then_environment(tmp_path: Path) -> None:
    config = tmp_path / "apps.toml"
    config.write_text(
        'max_image_size = 512\n[weights]\nsdxl = "/models/sdxl"\nflux-dev = "bfl/FLUX.1-dev"\n'
        '[llm]\ndefault = "big"\n[llm.models.big]\nbase_url = "http://gpu:8001/v1/"\n'
        'model = "Llama-3.1-8B"\naliases = ["meta-llama/llama-3.1-8b-instruct"]\n'
    )
    env = {
        "OPENFAL_APPS_CONFIG": str(config),
        "OPENFAL_WEIGHTS_SDXL": "/other/sdxl",
        "OPENFAL_MAX_VIDEO_FRAMES": "17",
        "OPENFAL_DATA_DIR": str(tmp_path),
    }
    got = settings(env)
    assert got.weights == {"sdxl": "/other/sdxl", "flux-dev": "bfl/FLUX.1-dev"}
    assert (got.max_image_size, got.max_video_frames) == (512, 17)
    assert got.weights_for("lcm-sd15") is None
    assert got.llm_default == "big"
    forwarded = got.forwarded("meta-llama/llama-3.1-8b-instruct")
    assert forwarded is not None
    assert (forwarded.base_url, forwarded.model) == ("http://gpu:8001/v1", "Llama-3.1-8B")
    assert got.forwarded("google/gemini-flash-1.5") is None
    checker = {"OPENFAL_WEIGHTS_SAFETY_CHECKER": "/models/checker"}
    demo = settings({**env, **checker, "OPENFAL_DEMO_WEIGHTS": "1"})
    assert demo.weights_for("sdxl") is None  # --demo-weights wins over configured weights
    assert demo.weights_for("safety-checker") == "/models/checker"  # but keeps the checker


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OPENFAL_MAX_IMAGE_SIZE": "big"}, "max_image_size must be a whole number"),
        ({"OPENFAL_MAX_VIDEO_FRAMES": "0"}, "max_video_frames must be positive"),
    ],
)
def test_settings_reject_bad_numbers(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        settings(env)


def test_settings_reject_unknown_weights_and_default(tmp_path: Path) -> None:
    config = tmp_path / "apps.toml"
    config.write_text('[weights]\nflux-pro = "/x"\n')
    with pytest.raises(ValueError, match="unknown \\[weights\\] keys \\['flux-pro'\\]"):
        settings({"OPENFAL_APPS_CONFIG": str(config)})
    config.write_text('[llm]\ndefault = "nowhere"\n')
    with pytest.raises(ValueError, match="'nowhere' is neither 'local'"):
        settings({"OPENFAL_APPS_CONFIG": str(config)})


def test_environment_forwarder_becomes_the_default() -> None:
    got = settings({"OPENFAL_LLM_BASE_URL": "http://h:1/v1", "OPENFAL_LLM_MODEL": "qwen"})
    assert got.llm_default == "qwen"
    assert got.forwarded("qwen") == ForwardedModel("qwen", "http://h:1/v1", "qwen", None)


def test_configured_weights_load_from_cache_only(tmp_path: Path) -> None:
    got = settings({"OPENFAL_WEIGHTS_SDXL": "stabilityai/sdxl", "OPENFAL_DATA_DIR": str(tmp_path)})
    source = resolve_weights(got, "sdxl")
    assert (source.location, source.demo) == ("stabilityai/sdxl", False)
    assert source.load_kwargs() == {"local_files_only": True}
    online = settings({"OPENFAL_WEIGHTS_SDXL": "stabilityai/sdxl", "OPENFAL_HF_ONLINE": "1"})
    assert resolve_weights(online, "sdxl").load_kwargs() == {"local_files_only": False}
    assert not (tmp_path / "demo-weights").exists()


def test_demo_weights_are_built_once_and_reused(demo: AppsSettings) -> None:
    first = resolve_weights(demo, "flux-dev")
    marker = Path(first.location) / ".complete"
    built = marker.stat().st_mtime_ns
    again = resolve_weights(demo, "flux-dev")
    assert first == again
    assert first.demo
    assert marker.stat().st_mtime_ns == built
    assert (Path(first.location) / "model_index.json").exists()


def test_whisper_demo_is_the_packaged_tiny_en_model(demo: AppsSettings) -> None:
    source = resolve_weights(demo, "whisper")
    assert source.demo
    assert (Path(source.location) / "model.bin").exists()


def test_fit_size_caps_keeping_aspect_and_rounds_to_multiple() -> None:
    assert fit_size(1024, 576, multiple=16, max_side=None) == (1024, 576)
    assert fit_size(1024, 576, multiple=16, max_side=512) == (512, 288)
    assert fit_size(1000, 700, multiple=16, max_side=None) == (992, 688)
    assert fit_size(8, 8, multiple=32, max_side=None) == (32, 32)


def test_same_seed_same_image_and_cancel_stops_within_one_step(demo: AppsSettings) -> None:
    pipe = load_pipeline("FluxPipeline", resolve_weights(demo, "flux-dev"), choose_placement())

    def generate(seed: int) -> Any:
        return pipe(
            "a cat", height=64, width=64, num_inference_steps=3, generator=seeded_generator(seed)
        ).images[0]

    assert generate(7).tobytes() == generate(7).tobytes()
    assert generate(7).tobytes() != generate(8).tobytes()

    reported: list[tuple[int, int, str | None]] = []
    request = RequestContext("r1")

    def on_progress(step: int, total: int, message: str | None) -> None:
        reported.append((step, total, message))
        request.cancel()  # cancelled during step 1: step 2 must not complete

    request.on_progress = on_progress
    progress = StepProgress("flux", 10)
    with bind_request(request), pytest.raises(RequestCancelled):
        pipe(
            "a cat",
            height=64,
            width=64,
            num_inference_steps=10,
            generator=seeded_generator(1),
            callback_on_step_end=progress,
        )
    assert reported == [(1, 10, "flux: step 1/10")]
    assert progress.steps == 2  # the step that saw the cancel raised at its end


def test_safety_checker_flags_and_blacks_out(tmp_path: Path) -> None:
    from PIL import Image

    flag_everything_checker(tmp_path / "checker")
    env = {"OPENFAL_WEIGHTS_SAFETY_CHECKER": str(tmp_path / "checker")}
    source = resolve_weights(settings(env), "safety-checker")
    checker = SafetyChecker(source, choose_placement())
    images = [Image.new("RGB", (64, 48), (200, 100, 50)) for _ in range(2)]
    checked, flags = checker.check(images)
    assert flags == [True, True]
    assert [image.size for image in checked] == [(64, 48), (64, 48)]
    assert all(image.getextrema() == ((0, 0), (0, 0), (0, 0)) for image in checked)
    assert checker.check(images, enabled=False) == (images, [False, False])


def test_no_safety_checker_reports_false_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    from PIL import Image

    images = [Image.new("RGB", (8, 8))]
    checker = SafetyChecker(None, choose_placement())
    assert checker.check(images) == (images, [False])
    assert "no safety checker loaded" in caplog.text


def test_local_chat_streams_and_stops_on_cancel(demo: AppsSettings) -> None:
    chat = LocalChat(resolve_weights(demo, "llm"), choose_placement(), max_tokens=24)
    messages = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    pieces = list(chat.stream(messages, ChatParams(max_tokens=24, temperature=0), lambda: False))
    assert len(pieces) > 1  # token by token, not held back until a space
    assert len(chat.tokenizer("".join(pieces)).input_ids) <= 24
    again = list(chat.stream(messages, ChatParams(max_tokens=24, temperature=0), lambda: False))
    assert again == pieces  # greedy decoding is deterministic
    stop = threading.Event()
    stopped = []
    for piece in chat.stream(messages, ChatParams(max_tokens=200, temperature=1.0), stop.is_set):
        stopped.append(piece)
        stop.set()
    assert len(stopped) == 1  # pieces decoded ahead of the reader are dropped once cancelled


def test_openai_chat_forwards_and_streams() -> None:
    with OpenAIServer(api_key="sekret") as server:
        model = ForwardedModel("fwd", server.base_url, "served-model", "sekret")
        chat = OpenAIChat(model)
        messages = [{"role": "user", "content": "hello there"}]
        pieces = list(chat.stream(messages, ChatParams(max_tokens=5, temperature=0.2), bool))
        assert "".join(pieces) == reply_text("served-model", messages)
        assert len(pieces) == 4
        assert server.requests == [
            {
                "model": "served-model",
                "messages": messages,
                "stream": True,
                "max_tokens": 5,
                "temperature": 0.2,
            }
        ]
        wrong = OpenAIChat(ForwardedModel("fwd", server.base_url, "m", "wrong"))
        with pytest.raises(AppException, match="answered 401") as failure:
            list(wrong.stream(messages, ChatParams(), bool))
        assert failure.value.status_code == 502
        chat.close()
        wrong.close()


def test_openai_chat_unreachable_server_is_502() -> None:
    from tests.e2e.harness import free_port

    chat = OpenAIChat(ForwardedModel("x", f"http://127.0.0.1:{free_port()}/v1", "m"))
    with pytest.raises(AppException, match="failed") as failure:
        list(chat.stream([{"role": "user", "content": "hi"}], ChatParams(), bool))
    assert failure.value.status_code == 502


def test_encode_mp4_is_readable_with_its_frame_count(tmp_path: Path) -> None:
    import av
    import numpy as np

    frames = np.zeros((9, 64, 96, 3), dtype=np.uint8)
    frames[:, :, :, 0] = np.arange(9, dtype=np.uint8)[:, None, None] * 25
    path = encode_mp4(frames, 24, tmp_path / "out.mp4")
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        decoded = sum(1 for _ in container.decode(stream))
        assert (stream.codec_context.width, stream.codec_context.height) == (96, 64)
    assert decoded == 9
