"""``fal-ai/ltx-video``: text to video with diffusers' LTXPipeline, encoded to MP4.

The aspect ratio picks the frame size (long side 768 px, as LTX-Video was trained) and
the duration the frame count (24 fps; LTX needs 8k+1 frames). The operator's
``max_image_size`` and ``max_video_frames`` cap both.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

import openfal
from openfal.apps._diffusion_app import DiffusionRuntime
from openfal.apps._pipelines import StepProgress, encode_mp4, fit_size, pick_seed, seeded_generator
from openfal.toolkit import Video

log = logging.getLogger("openfal.apps")

FPS = 24
LONG_SIDE = 768
ASPECT_RATIOS = {"16:9": (16, 9), "9:16": (9, 16), "1:1": (1, 1), "4:3": (4, 3), "21:9": (21, 9)}
DEFAULT_NEGATIVE = "worst quality, inconsistent motion, blurry, jittery, distorted"


class VideoInput(BaseModel):
    prompt: str = Field(
        description="The prompt to generate the video from.",
        examples=["a sailboat gliding across a calm bay at sunset"],
    )
    negative_prompt: str = Field(
        default=DEFAULT_NEGATIVE, description="What the video should not show."
    )
    duration: float = Field(default=5, ge=1, le=10, description="Length in seconds.")
    aspect_ratio: Literal["16:9", "9:16", "1:1", "4:3", "21:9"] = Field(
        default="16:9", description="The frame's aspect ratio."
    )
    cfg_scale: float = Field(
        default=3.0, ge=1, le=20, description="How closely the video follows the prompt."
    )
    num_inference_steps: int = Field(default=30, ge=1, le=50, description="Denoising steps.")
    seed: int | None = Field(
        default=None, description="The same seed and inputs give the same video."
    )


class VideoOutput(BaseModel):
    video: Video = Field(description="The generated MP4.")
    seed: int = Field(description="The seed used; send it back to reproduce the video.")
    timings: dict[str, float] = Field(default_factory=dict)
    demo_weights: bool = Field(
        default=False, description="True when the server runs random demo weights (noise)."
    )


def frame_size(aspect_ratio: str, max_side: int | None) -> tuple[int, int]:
    """``(width, height)``: long side 768, the short one the nearest multiple of 32."""
    across, down = ASPECT_RATIOS[aspect_ratio]
    scale = LONG_SIDE / max(across, down) / 32
    width, height = round(across * scale) * 32, round(down * scale) * 32
    return fit_size(width, height, multiple=32, max_side=max_side)


def frame_count(duration: float, cap: int | None) -> int:
    """``8k + 1`` frames for ``duration`` seconds at 24 fps, at most ``cap``."""
    frames = round(duration * FPS / 8) * 8 + 1
    if cap is not None and frames > cap:
        frames = max(1, (cap - 1) // 8 * 8 + 1)
        log.info("video of %gs capped at %d frames (operator max_video_frames)", duration, frames)
    return frames


class LTXVideo(
    openfal.App,
    name="fal-ai/ltx-video",
    keep_alive=600,
    max_concurrency=1,
    startup_timeout=1800,
):
    """LTX-Video text-to-video."""

    def setup(self) -> None:
        self.runtime = DiffusionRuntime("fal-ai/ltx-video")
        self.pipe = self.runtime.load("ltx-video", "LTXPipeline")

    @openfal.endpoint("/")
    def generate(self, input: VideoInput) -> VideoOutput:
        width, height = frame_size(input.aspect_ratio, self.runtime.settings.max_image_size)
        frames = frame_count(input.duration, self.runtime.settings.max_video_frames)
        seed = pick_seed(input.seed)
        started = time.perf_counter()
        with self.runtime.lock:
            output = self.pipe(
                prompt=input.prompt,
                negative_prompt=input.negative_prompt or None,
                width=width,
                height=height,
                num_frames=frames,
                frame_rate=FPS,
                guidance_scale=input.cfg_scale,
                num_inference_steps=input.num_inference_steps,
                generator=seeded_generator(seed),
                callback_on_step_end=StepProgress("ltx-video", input.num_inference_steps),
                output_type="np",
            )
        inference = time.perf_counter() - started
        clip = (output.frames[0] * 255).round().clip(0, 255).astype("uint8")
        log.info(
            "ltx-video: %d frames %dx%d in %.2fs (seed %d)", frames, width, height, inference, seed
        )
        with tempfile.TemporaryDirectory(prefix="openfal-video-") as folder:
            path = encode_mp4(clip, FPS, Path(folder) / "video.mp4")
            video = Video.from_path(path, content_type="video/mp4")
        return VideoOutput(
            video=video,
            seed=seed,
            timings={"inference": inference, "encoding": time.perf_counter() - started - inference},
            demo_weights=self.runtime.demo("ltx-video"),
        )
