"""``fal-ai/lcm-sd15-i2i``: Latent Consistency (SD 1.5) image-to-image in a few steps.

The camera-frame use case: an HTTP endpoint and a realtime websocket
(``ws://HOST/fal-ai/lcm-sd15-i2i/realtime``, msgpack frames, buffering 1: only the newest
waiting frame is kept). The pipeline is loaded once per runner and every call goes
straight to it.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

import openfal
from openfal.apps._diffusion_app import (
    SYNC_MODE_DESCRIPTION,
    DiffusionRuntime,
    Timings,
    require_a_step,
)
from openfal.apps._pipelines import fit_size, pick_seed
from openfal.toolkit import Image, ImageUrl, load_image


class LCMInput(BaseModel):
    prompt: str = Field(
        description="The prompt to steer the image with.", examples=["a watercolor portrait"]
    )
    image_url: ImageUrl = Field(description="The starting image (http(s) or data URI).")
    strength: float = Field(
        default=0.8, gt=0, le=1, description="How much to change the image (1: all of it)."
    )
    negative_prompt: str = Field(default="", description="What the image should not show.")
    seed: int | None = Field(
        default=None, description="The same seed and inputs give the same image."
    )
    guidance_scale: float = Field(
        default=1.0, ge=0, le=16, description="How closely the image follows the prompt."
    )
    num_inference_steps: int = Field(default=4, ge=1, le=12, description="Denoising steps.")
    num_images: int = Field(default=1, ge=1, le=4, description="How many images to make.")
    enable_safety_checks: bool = Field(default=True, description="Check images for NSFW.")
    sync_mode: bool = Field(default=False, description=SYNC_MODE_DESCRIPTION)


class LCMOutput(BaseModel):
    images: list[Image] = Field(description="The generated images.")
    seed: int = Field(description="The seed used; send it back to reproduce the images.")
    num_inference_steps: int = Field(description="The denoising steps run.")
    nsfw_content_detected: list[bool] = Field(description="Per image: flagged by the checker.")
    timings: Timings
    demo_weights: bool = Field(
        default=False, description="True when the server runs random demo weights (noise)."
    )


class LCMImageToImage(
    openfal.App,
    name="fal-ai/lcm-sd15-i2i",
    keep_alive=600,
    max_concurrency=1,
    max_multiplexing=4,  # camera sessions share the runner; calls take turns on the pipeline
    startup_timeout=1800,
):
    """LCM SD 1.5 image-to-image over HTTP and a realtime websocket."""

    def setup(self) -> None:
        self.runtime = DiffusionRuntime("fal-ai/lcm-sd15-i2i")
        import diffusers

        self.pipe = self.runtime.load("lcm-sd15", "StableDiffusionImg2ImgPipeline")
        # LCM sampling whatever scheduler the folder names (SD 1.5 with a fused LCM-LoRA
        # ships PNDM); a distilled LCM UNet embeds the guidance scale instead of using CFG.
        self.pipe.scheduler = diffusers.LCMScheduler.from_config(self.pipe.scheduler.config)

    def _generate(self, input: LCMInput) -> LCMOutput:
        require_a_step(input.num_inference_steps, input.strength)
        image = load_image(input.image_url)
        size = fit_size(*image.size, multiple=8, max_side=self.runtime.settings.max_image_size)
        if image.size != size:
            image = image.resize(size)
        done = self.runtime.generate(
            self.pipe,
            "lcm-sd15",
            input.num_inference_steps,
            pick_seed(input.seed),
            check=input.enable_safety_checks,
            prompt=input.prompt,
            negative_prompt=input.negative_prompt or None,
            image=image,
            strength=input.strength,
            guidance_scale=input.guidance_scale,
            num_images_per_prompt=input.num_images,
        )
        return LCMOutput(
            images=self.runtime.files(done.images, "jpeg", input.sync_mode),
            seed=done.seed,
            num_inference_steps=input.num_inference_steps,
            nsfw_content_detected=done.nsfw,
            timings=Timings(inference=done.seconds),
            demo_weights=self.runtime.demo("lcm-sd15"),
        )

    @openfal.endpoint("/")
    def image_to_image(self, input: LCMInput) -> LCMOutput:
        return self._generate(input)

    @openfal.realtime("/realtime", buffering=1)
    def realtime(self, input: LCMInput) -> LCMOutput:
        """One output per camera frame; a frame arriving while one is processed replaces any
        frame still waiting (latest wins). Images come back inline as data URIs."""
        return self._generate(input.model_copy(update={"sync_mode": True}))
