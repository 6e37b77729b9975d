"""Which GPUs of this host a runner gets (``openfal worker --gpus 0,1``)."""

from __future__ import annotations

from typing import Any


def gpus_needed(settings: dict[str, Any]) -> int:
    """GPUs one runner of an app needs: ``num_gpus``, else 1 for a GPU ``machine_type``
    (fal's ``GPU``, ``GPU-A100``, ...; a list of types counts as GPU if any entry is)."""
    num = int(settings.get("num_gpus") or 0)
    if num > 0:
        return num
    kinds = settings.get("machine_type") or "CPU"
    kinds = kinds if isinstance(kinds, list) else [kinds]
    return 1 if any(str(k).upper().startswith("GPU") for k in kinds) else 0


class GpuPool:
    """The GPUs a worker hands out, one runner each, as CUDA_VISIBLE_DEVICES values.

    A worker started without ``--gpus`` manages none: runners then inherit the
    environment untouched and GPU apps are not limited here.
    """

    def __init__(self, gpus: list[str] | None) -> None:
        self.managed = gpus is not None
        self.all = list(gpus or [])
        self._free = list(self.all)

    @property
    def free(self) -> list[str]:
        return list(self._free)

    def take(self, count: int) -> list[str] | None:
        """``count`` free GPUs, or None when this host has not that many free now."""
        if not self.managed or count == 0:
            return []
        if len(self._free) < count:
            return None
        taken, self._free = self._free[:count], self._free[count:]
        return taken

    def give(self, gpus: list[str]) -> None:
        self._free += [g for g in gpus if g in self.all and g not in self._free]
        self._free.sort(key=self.all.index)

    def env(self, gpus: list[str]) -> dict[str, str]:
        """What a runner holding ``gpus`` sees. A runner of a CPU app on a managed host
        sees no GPU, so it cannot take memory on one that another runner owns."""
        if not self.managed:
            return {}
        return {"CUDA_VISIBLE_DEVICES": ",".join(gpus)}
