"""The Stable Diffusion safety checker: real flags and blacked-out images when configured."""

from __future__ import annotations

import logging
from typing import Any

from openfal.apps._pipelines._device import Placement
from openfal.apps._pipelines._weights import WeightsSource

log = logging.getLogger("openfal.apps")

__all__ = ["SafetyChecker"]


class SafetyChecker:
    """Checks generated PIL images; without configured weights every image passes."""

    def __init__(self, source: WeightsSource | None, placement: Placement) -> None:
        self.source = source
        self.placement = placement
        self._model: Any = None
        self._processor: Any = None
        if source is None:
            log.warning("no safety checker loaded: has_nsfw_concepts is false for every image")
            return
        from diffusers.pipelines.stable_diffusion.safety_checker import (
            StableDiffusionSafetyChecker,
        )
        from transformers import CLIPImageProcessor

        kwargs = source.load_kwargs()
        self._processor = CLIPImageProcessor.from_pretrained(source.location, **kwargs)
        model = StableDiffusionSafetyChecker.from_pretrained(source.location, **kwargs)
        self._model = model.to(placement.device, placement.dtype).eval()
        log.info("safety checker loaded from %s", source.location)

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def check(self, images: list[Any], enabled: bool = True) -> tuple[list[Any], list[bool]]:
        """``(images, flags)``: flagged images are replaced by black ones."""
        if not enabled:
            return images, [False] * len(images)
        if not self.loaded:
            log.info("no safety checker loaded: reporting no NSFW concepts")
            return images, [False] * len(images)
        import numpy as np
        import torch
        from PIL import Image

        inputs = self._processor(images, return_tensors="pt").pixel_values
        arrays = np.stack([np.asarray(image, dtype=np.float32) / 255.0 for image in images])
        with torch.no_grad():
            _, flags = self._model(
                images=arrays,
                clip_input=inputs.to(self.placement.device, self.placement.dtype),
            )
        checked = [
            Image.new("RGB", image.size) if flagged else image
            for image, flagged in zip(images, flags, strict=True)
        ]
        if any(flags):
            log.info("safety checker flagged %d of %d images", sum(flags), len(images))
        return checked, [bool(flag) for flag in flags]
