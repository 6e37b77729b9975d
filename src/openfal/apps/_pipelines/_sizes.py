"""Output sizes and seeds shared by the image and video apps."""

from __future__ import annotations

import logging
import secrets

log = logging.getLogger("openfal.apps")

__all__ = ["fit_size", "pick_seed"]


def fit_size(width: int, height: int, *, multiple: int, max_side: int | None) -> tuple[int, int]:
    """``(width, height)`` the pipeline can make: within ``max_side`` (aspect kept) and
    rounded down to ``multiple``. Changes are logged, so a capped request says why."""
    scale = min(1.0, max_side / max(width, height)) if max_side else 1.0
    fitted = (
        max(multiple, int(width * scale) // multiple * multiple),
        max(multiple, int(height * scale) // multiple * multiple),
    )
    if fitted != (width, height):
        cap = f" (operator max size {max_side})" if scale < 1.0 else ""
        log.info("size %dx%d becomes %dx%d%s", width, height, *fitted, cap)
    return fitted


def pick_seed(seed: int | None) -> int:
    """The request's seed, or a fresh random one (returned to the caller either way)."""
    return seed if seed is not None else secrets.randbelow(2**32)
