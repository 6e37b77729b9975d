"""Where pipelines run: CUDA in bf16 (fp16 on GPUs without bf16), else the CPU in fp32."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("openfal.apps")

__all__ = ["Placement", "choose_placement"]


@dataclass(frozen=True)
class Placement:
    device: str  # "cuda", "cuda:1", "cpu"
    dtype: Any  # a torch.dtype

    @property
    def is_cuda(self) -> bool:
        return self.device.startswith("cuda")

    def describe(self) -> str:
        return f"{self.device} {str(self.dtype).removeprefix('torch.')}"


def choose_placement(requested: str | None = None) -> Placement:
    """The device (``requested``, else CUDA when present, else CPU) and its best dtype."""
    import torch

    device = requested or ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError(f"device {device!r} was asked for but CUDA is not available")
        index = torch.device(device).index or 0
        bf16 = torch.cuda.get_device_capability(index) >= (8, 0)
        return Placement(device, torch.bfloat16 if bf16 else torch.float16)
    return Placement(device, torch.float32)
