"""``fal-ai/flux/dev`` and ``fal-ai/flux/schnell``: text to image with diffusers' FluxPipeline.

One app, ``fal-ai/flux``, with the endpoints ``/dev`` and ``/schnell`` (fal's ids
``fal-ai/flux/dev`` are owner ``fal-ai``, alias ``flux``, path ``dev``). FLUX.1 dev and
schnell share their text encoders and VAE, so a runner loads those once.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from pydantic import BaseModel, Field

import openfal
from openfal.apps._diffusion_app import (
    SYNC_MODE_DESCRIPTION,
    DiffusionRuntime,
    GeneratedImages,
    Timings,
)
from openfal.apps._pipelines import pick_seed
from openfal.toolkit import ImageSizeInput

log = logging.getLogger("openfal.apps")

SHARED_PARTS = ("text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "vae")


class FluxInput(BaseModel):
    prompt: str = Field(
        description="The prompt to generate an image from.",
        examples=["a red fox in fresh snow, morning light"],
    )
    image_size: ImageSizeInput = Field(
        default="landscape_4_3", description="A preset name or {width, height} in pixels."
    )
    num_inference_steps: int = Field(default=28, ge=1, le=50, description="Denoising steps.")
    seed: int | None = Field(
        default=None, description="The same seed and inputs give the same image."
    )
    guidance_scale: float = Field(
        default=3.5, ge=1, le=20, description="How closely the image follows the prompt."
    )
    sync_mode: bool = Field(default=False, description=SYNC_MODE_DESCRIPTION)
    num_images: int = Field(default=1, ge=1, le=4, description="How many images to make.")
    enable_safety_checker: bool = Field(default=True, description="Check images for NSFW.")
    output_format: Literal["jpeg", "png"] = Field(default="jpeg", description="Image format.")


class SchnellInput(FluxInput):
    num_inference_steps: int = Field(default=4, ge=1, le=50, description="Denoising steps.")


class FluxOutput(GeneratedImages):
    """FLUX.1 images, in fal's output shape."""


class Flux(
    openfal.App,
    name="fal-ai/flux",
    keep_alive=600,
    max_concurrency=1,
    startup_timeout=1800,
):
    """FLUX.1 [dev] and [schnell] text-to-image."""

    def setup(self) -> None:
        self.runtime = DiffusionRuntime("fal-ai/flux")
        self.dev = self.runtime.load("flux-dev", "FluxPipeline")
        schnell = self.runtime.settings.weights_for("flux-schnell")
        dev = self.runtime.settings.weights_for("flux-dev")
        # Share encoders and VAE when both are real FLUX.1 weights or both demo weights.
        parts = {name: self.dev.components[name] for name in SHARED_PARTS}
        same_family = bool(schnell) == bool(dev)
        self.schnell = self.runtime.load(
            "flux-schnell", "FluxPipeline", **(parts if same_family else {})
        )

    def _generate(self, pipe: Any, key: str, input: FluxInput) -> FluxOutput:
        width, height = self.runtime.size(input.image_size, multiple=16)
        seed = pick_seed(input.seed)
        done = self.runtime.generate(
            pipe,
            key,
            input.num_inference_steps,
            seed,
            check=input.enable_safety_checker,
            prompt=input.prompt,
            width=width,
            height=height,
            guidance_scale=input.guidance_scale,
            num_images_per_prompt=input.num_images,
        )
        return FluxOutput(
            images=self.runtime.files(done.images, input.output_format, input.sync_mode),
            timings=Timings(inference=done.seconds),
            seed=seed,
            has_nsfw_concepts=done.nsfw,
            prompt=input.prompt,
            demo_weights=self.runtime.demo(key),
        )

    @openfal.endpoint("/dev")
    def dev_endpoint(self, input: FluxInput) -> FluxOutput:
        return self._generate(self.dev, "flux-dev", input)

    @openfal.endpoint("/schnell")
    def schnell_endpoint(self, input: SchnellInput) -> FluxOutput:
        return self._generate(self.schnell, "flux-schnell", input)
