"""Built-in apps, registered by ``openfal serve``. Each is an ordinary ``openfal.App``.

``BUILTIN_APPS`` maps each app's reference to the modules it needs at run time; an app
whose modules are not installed (``pip install 'openfal[apps]'``) is skipped at serve.
App modules import no ML library themselves: ``setup()`` does, in the runner.
"""

from __future__ import annotations

import importlib.util

from openfal.apps._settings import runner_env

__all__ = ["BUILTIN_APPS", "missing_modules", "runner_env"]

_DIFFUSION = ("torch", "diffusers", "transformers", "sentencepiece", "PIL")

BUILTIN_APPS: dict[str, tuple[str, ...]] = {
    "openfal.apps.echo:Echo": (),
    "openfal.apps.flux:Flux": _DIFFUSION,
    "openfal.apps.fast_sdxl:FastSDXL": _DIFFUSION,
    "openfal.apps.lcm_sd15:LCMImageToImage": _DIFFUSION,
    "openfal.apps.ltx_video:LTXVideo": (*_DIFFUSION, "av"),
    "openfal.apps.whisper:Whisper": ("faster_whisper",),
    "openfal.apps.any_llm:AnyLLM": ("torch", "transformers"),
}


def missing_modules(ref: str) -> list[str]:
    """The modules built-in app ``ref`` needs that are not installed."""
    return [name for name in BUILTIN_APPS.get(ref, ()) if importlib.util.find_spec(name) is None]
