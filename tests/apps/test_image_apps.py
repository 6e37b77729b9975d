"""fal-ai/flux, fal-ai/fast-sdxl and fal-ai/lcm-sd15-i2i end to end through ``openfal serve``."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.e2e.harness import Serve, wait_for

from .checker import flag_everything_checker
from .conftest import call, file_bytes, png_data_uri

pytestmark = pytest.mark.e2e


def decoded(client: httpx.Client, image: dict[str, object]) -> Image.Image:
    picture = Image.open(io.BytesIO(file_bytes(client, str(image["url"]))))
    assert picture.size == (image["width"], image["height"])
    return picture


def test_flux_dev_preset_size_and_output_shape(client: httpx.Client) -> None:
    body = {"prompt": "a fox", "image_size": "landscape_16_9", "num_inference_steps": 2}
    out = call(client, "fal-ai/flux/dev", {**body, "seed": 5, "output_format": "png"})
    assert set(out) == {"images", "timings", "seed", "has_nsfw_concepts", "prompt", "demo_weights"}
    assert (out["seed"], out["prompt"], out["demo_weights"]) == (5, "a fox", True)
    assert out["has_nsfw_concepts"] == [False]
    assert out["timings"]["inference"] > 0
    [image] = out["images"]
    assert (image["width"], image["height"], image["content_type"]) == (1024, 576, "image/png")
    assert image["url"].startswith("http://127.0.0.1:")
    assert decoded(client, image).format == "PNG"


def test_flux_schnell_same_seed_same_png_and_num_images(client: httpx.Client) -> None:
    body = {
        "prompt": "a lighthouse",
        "image_size": {"width": 256, "height": 128},
        "output_format": "png",
        "sync_mode": True,
        "num_images": 3,
    }
    first = call(client, "fal-ai/flux/schnell", {**body, "seed": 1234})
    again = call(client, "fal-ai/flux/schnell", {**body, "seed": 1234})
    other = call(client, "fal-ai/flux/schnell", {**body, "seed": 1235})
    assert len(first["images"]) == 3
    assert first["has_nsfw_concepts"] == [False, False, False]
    urls = [image["url"] for image in first["images"]]
    assert all(url.startswith("data:image/png;base64,") for url in urls)
    assert urls == [image["url"] for image in again["images"]]  # byte-identical PNGs
    assert urls != [image["url"] for image in other["images"]]
    assert len(set(urls)) == 3
    assert [decoded(client, image).size for image in first["images"]] == [(256, 128)] * 3


def test_flux_default_jpeg_and_operator_cap(client: httpx.Client) -> None:
    body = {"prompt": "a boat", "image_size": {"width": 2048, "height": 1152}}
    out = call(client, "fal-ai/flux/schnell", {**body, "num_inference_steps": 1})
    [image] = out["images"]
    assert (image["width"], image["height"]) == (1024, 576)  # capped at 1024, aspect kept
    assert image["content_type"] == "image/jpeg"
    assert decoded(client, image).format == "JPEG"
    assert isinstance(out["seed"], int)  # a random seed, returned


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"prompt": "x", "num_images": 5}, "num_images"),
        ({"prompt": "x", "guidance_scale": 0.5}, "guidance_scale"),
        ({"prompt": "x", "num_inference_steps": 51}, "num_inference_steps"),
        ({"prompt": "x", "output_format": "gif"}, "output_format"),
        ({"image_size": "square"}, "prompt"),
    ],
)
def test_flux_rejects_bad_input_naming_the_field(
    client: httpx.Client, body: dict[str, object], field: str
) -> None:
    detail = call(client, "fal-ai/flux/dev", body, status=422)["detail"]
    assert any(error["loc"][:2] == ["body", field] for error in detail), detail


def test_flux_progress_logs_and_cancel_within_a_step(apps_server: Serve) -> None:
    with httpx.Client(base_url=apps_server.url, timeout=60) as http:
        body = {"prompt": "slow", "image_size": "square_hd", "num_inference_steps": 50}
        submitted = http.post("/queue/fal-ai/flux/dev", json=body).json()
        status_url, cancel_url = submitted["status_url"], submitted["cancel_url"]

        def progressed() -> dict[str, object] | None:
            status = http.get(status_url, params={"logs": 1}).json()
            return status if status.get("progress") else None

        running = wait_for(progressed, 100, interval=0.1, what="progress")
        assert running["status"] == "IN_PROGRESS"
        assert http.put(cancel_url).status_code == 202
        done = wait_for(
            lambda: (
                (s := http.get(status_url, params={"logs": 1}).json())["status"] == "COMPLETED"
                and s
            ),
            60,
            what="the cancel",
        )
        assert done["error_type"] == "client_cancelled"
        logs = [entry["message"] for entry in done["logs"]]
        steps = [line for line in logs if line.startswith("flux-dev: step ")]
        assert steps and steps[0] == "flux-dev: step 1/50"
        assert len(steps) < 50  # stopped early
        result = http.get(submitted["response_url"])
        assert result.status_code == 499


def test_fast_sdxl_text_to_image_echoes_seed(client: httpx.Client) -> None:
    seed = 2**40 + 7
    body = {
        "prompt": "a castle",
        "image_size": {"width": 128, "height": 96},
        "num_inference_steps": 2,
        "seed": seed,
        "format": "png",
        "num_images": 2,
    }
    out = call(client, "fal-ai/fast-sdxl", body)
    assert out["seed"] == seed
    assert out["demo_weights"] is True
    assert out["has_nsfw_concepts"] == [False, False]
    sizes = [decoded(client, image).size for image in out["images"]]
    assert sizes == [(128, 96), (128, 96)]
    again = call(client, "fal-ai/fast-sdxl", body)
    assert [file_bytes(client, i["url"]) for i in out["images"]] == [
        file_bytes(client, i["url"]) for i in again["images"]
    ]


def test_fast_sdxl_image_to_image(client: httpx.Client) -> None:
    body = {
        "prompt": "make it blue",
        "image_url": png_data_uri(120, 88, (250, 10, 10)),
        "num_inference_steps": 4,
        "strength": 0.5,
        "seed": 3,
        "format": "png",
    }
    out = call(client, "fal-ai/fast-sdxl/image-to-image", body)
    [image] = out["images"]
    assert (image["width"], image["height"]) == (120, 88)  # the input's size (a multiple of 8)
    resized = call(
        client,
        "fal-ai/fast-sdxl/image-to-image",
        {**body, "image_size": {"width": 64, "height": 64}},
    )
    assert (resized["images"][0]["width"], resized["images"][0]["height"]) == (64, 64)
    no_steps = call(
        client, "fal-ai/fast-sdxl/image-to-image", {**body, "strength": 0.1}, status=422
    )
    assert no_steps["detail"][0]["loc"] == ["body", "strength"]


def test_fast_sdxl_image_to_image_refuses_private_urls(client: httpx.Client) -> None:
    body = {"prompt": "x", "image_url": "http://169.254.169.254/latest/meta-data"}
    detail = call(client, "fal-ai/fast-sdxl/image-to-image", body, status=422)["detail"]
    assert detail[0]["loc"][:2] == ["body", "image_url"]


def test_lcm_image_to_image(client: httpx.Client) -> None:
    body = {
        "prompt": "a watercolor",
        "image_url": png_data_uri(128, 128, (20, 200, 40)),
        "strength": 0.5,
        "num_inference_steps": 4,
        "seed": 11,
        "sync_mode": True,
    }
    out = call(client, "fal-ai/lcm-sd15-i2i", body)
    assert set(out) >= {"images", "seed", "num_inference_steps", "nsfw_content_detected"}
    assert (out["seed"], out["num_inference_steps"]) == (11, 4)
    assert out["nsfw_content_detected"] == [False]
    [image] = out["images"]
    assert image["url"].startswith("data:image/jpeg;base64,")
    assert decoded(client, image).size == (128, 128)
    again = call(client, "fal-ai/lcm-sd15-i2i", body)
    assert again["images"][0]["url"] == image["url"]  # same seed, same bytes


def test_configured_safety_checker_flags_and_blacks_out(tmp_path: Path) -> None:
    flag_everything_checker(tmp_path / "checker")
    env = {"OPENFAL_WEIGHTS_SAFETY_CHECKER": str(tmp_path / "checker"), "OMP_NUM_THREADS": "1"}
    server = Serve(tmp_path / "data", [], args=["--demo-weights"], builtins=True, env=env)
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=110) as http:
            body = {
                "prompt": "x",
                "image_size": {"width": 64, "height": 64},
                "num_inference_steps": 1,
                "num_images": 2,
                "output_format": "png",
                "sync_mode": True,
            }
            out = call(http, "fal-ai/flux/schnell", body)
            assert out["has_nsfw_concepts"] == [True, True]
            for image in out["images"]:
                assert decoded(http, image).getextrema() == ((0, 0), (0, 0), (0, 0))
            unchecked = call(http, "fal-ai/flux/schnell", {**body, "enable_safety_checker": False})
            assert unchecked["has_nsfw_concepts"] == [False, False]
            pictures = [decoded(http, image) for image in unchecked["images"]]
            assert all(p.getextrema() != ((0, 0), (0, 0), (0, 0)) for p in pictures)
    finally:
        server.stop()
