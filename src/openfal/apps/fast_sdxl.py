"""``fal-ai/fast-sdxl`` (text to image) and ``fal-ai/fast-sdxl/image-to-image``: SDXL.

One pipeline per runner: the image-to-image pipeline is built from the text-to-image
pipeline's components, so the weights are loaded once.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

import openfal
from openfal.apps._diffusion_app import (
    SYNC_MODE_DESCRIPTION,
    DiffusionRuntime,
    GeneratedImages,
    Timings,
    require_a_step,
)
from openfal.apps._pipelines import fit_size, pick_seed
from openfal.toolkit import ImageSizeInput, ImageUrl, load_image


class SDXLInput(BaseModel):
    prompt: str = Field(
        description="The prompt to generate an image from.",
        examples=["an astronaut riding a horse, photograph"],
    )
    negative_prompt: str = Field(default="", description="What the image should not show.")
    image_size: ImageSizeInput = Field(
        default="square_hd", description="A preset name or {width, height} in pixels."
    )
    num_inference_steps: int = Field(default=25, ge=1, le=50, description="Denoising steps.")
    seed: int | None = Field(
        default=None, description="The same seed and inputs give the same image."
    )
    guidance_scale: float = Field(
        default=7.5, ge=0, le=20, description="How closely the image follows the prompt."
    )
    num_images: int = Field(default=1, ge=1, le=8, description="How many images to make.")
    enable_safety_checker: bool = Field(default=True, description="Check images for NSFW.")
    format: Literal["jpeg", "png"] = Field(default="jpeg", description="Image format.")
    sync_mode: bool = Field(default=False, description=SYNC_MODE_DESCRIPTION)


class SDXLImageToImageInput(SDXLInput):
    image_url: ImageUrl = Field(description="The image to start from (http(s) or data URI).")
    image_size: ImageSizeInput | None = Field(  # type: ignore[assignment]
        default=None, description="Output size; the input image's size when left out."
    )
    strength: float = Field(
        default=0.95, gt=0, le=1, description="How much to change the image (1: all of it)."
    )


class SDXLOutput(GeneratedImages):
    """Stable Diffusion XL images, in fal's output shape."""


class FastSDXL(
    openfal.App,
    name="fal-ai/fast-sdxl",
    keep_alive=600,
    max_concurrency=1,
    startup_timeout=1800,
):
    """Stable Diffusion XL text-to-image and image-to-image."""

    def setup(self) -> None:
        import diffusers

        self.runtime = DiffusionRuntime("fal-ai/fast-sdxl")
        self.text_to_image = self.runtime.load("sdxl", "StableDiffusionXLPipeline")
        self.image_to_image = diffusers.StableDiffusionXLImg2ImgPipeline(
            **self.text_to_image.components
        )
        self.image_to_image.set_progress_bar_config(disable=True)

    def _output(self, input: SDXLInput, done: Any) -> SDXLOutput:
        return SDXLOutput(
            images=self.runtime.files(done.images, input.format, input.sync_mode),
            timings=Timings(inference=done.seconds),
            seed=done.seed,
            has_nsfw_concepts=done.nsfw,
            prompt=input.prompt,
            demo_weights=self.runtime.demo("sdxl"),
        )

    @openfal.endpoint("/")
    def generate(self, input: SDXLInput) -> SDXLOutput:
        width, height = self.runtime.size(input.image_size, multiple=8)
        done = self.runtime.generate(
            self.text_to_image,
            "sdxl",
            input.num_inference_steps,
            pick_seed(input.seed),
            check=input.enable_safety_checker,
            prompt=input.prompt,
            negative_prompt=input.negative_prompt or None,
            width=width,
            height=height,
            guidance_scale=input.guidance_scale,
            num_images_per_prompt=input.num_images,
        )
        return self._output(input, done)

    @openfal.endpoint("/image-to-image")
    def image_to_image_endpoint(self, input: SDXLImageToImageInput) -> SDXLOutput:
        require_a_step(input.num_inference_steps, input.strength)
        image = load_image(input.image_url)
        if input.image_size is None:
            cap = self.runtime.settings.max_image_size
            width, height = fit_size(*image.size, multiple=8, max_side=cap)
        else:
            width, height = self.runtime.size(input.image_size, multiple=8)
        if image.size != (width, height):
            image = image.resize((width, height))
        done = self.runtime.generate(
            self.image_to_image,
            "sdxl image-to-image",
            input.num_inference_steps,
            pick_seed(input.seed),
            check=input.enable_safety_checker,
            prompt=input.prompt,
            negative_prompt=input.negative_prompt or None,
            image=image,
            strength=input.strength,
            guidance_scale=input.guidance_scale,
            num_images_per_prompt=input.num_images,
        )
        return self._output(input, done)
