"""What the image apps share: pipelines on the chosen device, sizes, seeds, safety, outputs."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

import openfal
from openfal.apps._pipelines import (
    Placement,
    SafetyChecker,
    StepProgress,
    WeightsSource,
    choose_placement,
    fit_size,
    load_pipeline,
    quiet_libraries,
    resolve_weights,
    seeded_generator,
)
from openfal.apps._settings import AppsSettings, settings
from openfal.toolkit import Image, ImageSizeInput, get_image_size

log = logging.getLogger("openfal.apps")

__all__ = ["DiffusionRuntime", "Generated", "Timings", "require_a_step"]

SYNC_MODE_DESCRIPTION = (
    "If set to true, the function will wait for the image to be generated and uploaded "
    "before returning the response. The image is returned inline as a data URI and is not "
    "stored."
)


def require_a_step(steps: int, strength: float) -> None:
    """Image-to-image runs ``int(steps * strength)`` steps: at least one is needed."""
    if int(steps * strength) < 1:
        raise openfal.FieldException(
            "strength",
            f"strength {strength} with num_inference_steps {steps} leaves no denoising step; "
            "raise either so that their product is at least 1",
        )


class Timings(BaseModel):
    inference: float = Field(description="Seconds the pipeline ran.")


class GeneratedImages(BaseModel):
    """The output of fal's text-to-image and image-to-image endpoints (FLUX, fast-sdxl)."""

    images: list[Image] = Field(description="The generated images.")
    timings: Timings
    seed: int = Field(description="The seed used; send it back to reproduce the images.")
    has_nsfw_concepts: list[bool] = Field(description="Per image: flagged by the checker.")
    prompt: str = Field(description="The prompt used.")
    demo_weights: bool = Field(
        default=False, description="True when the server runs random demo weights (noise)."
    )


@dataclass
class Generated:
    """One pipeline call's images, checked by the safety checker, and how long it took."""

    images: list[Any]  # PIL images (flagged ones blacked out)
    nsfw: list[bool]
    seed: int
    seconds: float


class DiffusionRuntime:
    """Loaded in ``setup()``: the operator's settings, the device and the safety checker."""

    def __init__(self, app_id: str) -> None:
        quiet_libraries()
        self.app_id = app_id
        self.settings: AppsSettings = settings()
        self.placement: Placement = choose_placement(self.settings.device)
        checker = self.settings.weights_for("safety-checker")
        source = resolve_weights(self.settings, "safety-checker") if checker else None
        self.checker = SafetyChecker(source, self.placement)
        self.sources: dict[str, WeightsSource] = {}
        # A pipeline (its scheduler above all) holds per-call state: one call at a time, even
        # when a runner multiplexes requests and realtime sessions.
        self.lock = threading.Lock()
        log.info("%s runs on %s", app_id, self.placement.describe())

    def load(self, key: str, class_name: str, **parts: Any) -> Any:
        source = self.sources[key] = resolve_weights(self.settings, key)
        return load_pipeline(class_name, source, self.placement, **parts)

    def demo(self, key: str) -> bool:
        return self.sources[key].demo

    def size(self, image_size: ImageSizeInput, multiple: int) -> tuple[int, int]:
        """The output size of a preset or ``{width, height}``, within the operator's cap."""
        requested = get_image_size(image_size)
        return fit_size(
            requested.width,
            requested.height,
            multiple=multiple,
            max_side=self.settings.max_image_size,
        )

    def generate(
        self,
        pipe: Any,
        label: str,
        steps: int,
        seed: int,
        *,
        check: bool,
        **kwargs: Any,
    ) -> Generated:
        """Run ``pipe`` with a seeded generator and per-step progress, then the checker."""
        with self.lock:
            started = time.perf_counter()
            output = pipe(
                num_inference_steps=steps,
                generator=seeded_generator(seed),
                callback_on_step_end=StepProgress(label, steps),
                **kwargs,
            )
            seconds = time.perf_counter() - started
        images, nsfw = self.checker.check(list(output.images), enabled=check)
        log.info("%s: %d image(s) in %.2fs (seed %d)", label, len(images), seconds, seed)
        return Generated(images, nsfw, seed, seconds)

    @staticmethod
    def files(images: list[Any], format: str, sync_mode: bool) -> list[Image]:
        """The images as toolkit ``Image``s: stored files, or data URIs in ``sync_mode``."""
        repository = "in_memory" if sync_mode else "default"
        return [Image.from_pil(image, format=format, repository=repository) for image in images]
