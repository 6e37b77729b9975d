"""Loading diffusers pipelines onto the chosen device, quietly."""

from __future__ import annotations

import logging
from typing import Any

from openfal.apps._pipelines._device import Placement
from openfal.apps._pipelines._weights import WeightsSource

log = logging.getLogger("openfal.apps")

__all__ = ["load_pipeline", "quiet_libraries", "seeded_generator"]


def quiet_libraries() -> None:
    """No progress bars or advisory warnings from diffusers/transformers in request logs."""
    import diffusers
    import transformers

    diffusers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    logging.getLogger("openfal.apps").setLevel(logging.INFO)


def load_pipeline(
    class_name: str, source: WeightsSource, placement: Placement, **parts: Any
) -> Any:
    """``diffusers.<class_name>.from_pretrained(source)`` on ``placement``; ``parts``
    replaces components (already loaded ones shared between pipelines)."""
    import diffusers

    cls = getattr(diffusers, class_name)
    pipe = cls.from_pretrained(
        source.location, dtype=placement.dtype, **parts, **source.load_kwargs()
    )
    pipe.to(placement.device)
    pipe.set_progress_bar_config(disable=True)
    log.info("%s loaded from %s on %s", class_name, source.describe(), placement.describe())
    return pipe


def seeded_generator(seed: int) -> Any:
    """A CPU generator: the same seed gives the same noise on every device."""
    import torch

    return torch.Generator("cpu").manual_seed(seed)
