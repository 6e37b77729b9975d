"""What the operator configures for the built-in apps: weights, limits, device, LLM backends.

Sources, later ones winning: the TOML file named by ``OPENFAL_APPS_CONFIG`` (``openfal serve``
points it at ``<data dir>/apps.toml`` when that exists), then environment variables::

    OPENFAL_DATA_DIR            where demo weights are cached (``<dir>/demo-weights``)
    OPENFAL_DEMO_WEIGHTS=1      use small random-weight pipelines even where weights are set
                                (a configured safety checker still runs)
    OPENFAL_WEIGHTS_<KEY>       a folder or a Hugging Face repo id (read from the local cache)
                                for one pipeline; KEY is FLUX_DEV, FLUX_SCHNELL, SDXL,
                                LCM_SD15, LTX_VIDEO, LLM, WHISPER or SAFETY_CHECKER
    OPENFAL_HF_ONLINE=1         let Hugging Face repo ids download (default: cache only)
    OPENFAL_MAX_IMAGE_SIZE      largest side in pixels of any generated image or video
    OPENFAL_MAX_VIDEO_FRAMES    most frames of a generated video
    OPENFAL_DEVICE              cuda, cuda:1 or cpu (default: cuda when available)
    OPENFAL_LLM_BASE_URL        an OpenAI-compatible server (vLLM, llama.cpp, Ollama) that
    OPENFAL_LLM_MODEL           serves every any-llm request, as this model name,
    OPENFAL_LLM_API_KEY         with this key (optional)

The TOML file::

    demo_weights = false
    max_image_size = 1024
    [weights]
    flux-dev = "/models/FLUX.1-dev"
    sdxl = "stabilityai/stable-diffusion-xl-base-1.0"
    [llm]
    default = "llama"                       # a name below, or "local" (the default)
    [llm.models.llama]
    base_url = "http://127.0.0.1:8001/v1"
    model = "meta-llama/Llama-3.1-8B-Instruct"
    aliases = ["meta-llama/llama-3.1-8b-instruct"]   # fal model names served by it
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["WEIGHT_KEYS", "AppsSettings", "ForwardedModel", "runner_env", "settings"]

WEIGHT_KEYS = (
    "flux-dev",
    "flux-schnell",
    "sdxl",
    "lcm-sd15",
    "ltx-video",
    "llm",
    "whisper",
    "safety-checker",
)

LOCAL_LLM = "local"


@dataclass(frozen=True)
class ForwardedModel:
    """An LLM served by an OpenAI-compatible server."""

    name: str
    base_url: str
    model: str
    api_key: str | None = None
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class AppsSettings:
    data_dir: Path = Path(".openfal")
    demo_weights: bool = False
    weights: dict[str, str] = field(default_factory=dict)
    hf_online: bool = False
    max_image_size: int | None = None
    max_video_frames: int | None = None
    device: str | None = None
    llm_default: str = LOCAL_LLM
    llm_models: tuple[ForwardedModel, ...] = ()

    @property
    def demo_dir(self) -> Path:
        return self.data_dir / "demo-weights"

    def weights_for(self, key: str) -> str | None:
        """The configured folder or repo id of pipeline ``key``, None for demo weights.

        Demo mode replaces the generators only: a configured safety checker still runs."""
        if key not in WEIGHT_KEYS:
            raise KeyError(f"unknown pipeline {key!r}; known: {', '.join(WEIGHT_KEYS)}")
        if self.demo_weights and key != "safety-checker":
            return None
        return self.weights.get(key)

    def forwarded(self, name: str) -> ForwardedModel | None:
        """The forwarder serving model ``name`` (by name or alias), if one does."""
        for model in self.llm_models:
            if name == model.name or name in model.aliases:
                return model
        return None


def _flag(value: str | None) -> bool | None:
    if value is None or value == "":
        return None
    return value.strip().lower() in ("1", "true", "yes", "on")


def _int(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a whole number of pixels or frames, got {value!r}"
        ) from None
    if number <= 0:
        raise ValueError(f"{name} must be positive, got {number}")
    return number


def _llm_models(table: dict[str, Any]) -> list[ForwardedModel]:
    models = []
    for name, spec in (table.get("models") or {}).items():
        if "base_url" not in spec:
            raise ValueError(f"[llm.models.{name}] needs base_url")
        key = spec.get("api_key") or os.environ.get(spec.get("api_key_env") or "", "") or None
        models.append(
            ForwardedModel(
                name=name,
                base_url=str(spec["base_url"]).rstrip("/"),
                model=str(spec.get("model", name)),
                api_key=key,
                aliases=tuple(spec.get("aliases") or ()),
            )
        )
    return models


def _read_file(path: str | None) -> dict[str, Any]:
    if not path:
        return {}
    with open(path, "rb") as f:
        return tomllib.load(f)


def settings(env: dict[str, str] | None = None) -> AppsSettings:
    """The settings of this process, read from its config file and environment now."""
    env = dict(os.environ) if env is None else env
    conf = _read_file(env.get("OPENFAL_APPS_CONFIG"))
    weights = {str(k): str(v) for k, v in (conf.get("weights") or {}).items()}
    unknown = set(weights) - set(WEIGHT_KEYS)
    if unknown:
        raise ValueError(f"unknown [weights] keys {sorted(unknown)}; known: {WEIGHT_KEYS}")
    for key in WEIGHT_KEYS:
        value = env.get("OPENFAL_WEIGHTS_" + key.upper().replace("-", "_"))
        if value:
            weights[key] = value
    llm = conf.get("llm") or {}
    models = _llm_models(llm)
    default = str(llm.get("default", LOCAL_LLM))
    if env.get("OPENFAL_LLM_BASE_URL"):
        name = env.get("OPENFAL_LLM_MODEL") or "default"
        models.insert(
            0,
            ForwardedModel(
                name, env["OPENFAL_LLM_BASE_URL"].rstrip("/"), name, env.get("OPENFAL_LLM_API_KEY")
            ),
        )
        default = name
    if default != LOCAL_LLM and default not in {m.name for m in models}:
        raise ValueError(f"[llm] default {default!r} is neither 'local' nor a [llm.models] name")
    demo = _flag(env.get("OPENFAL_DEMO_WEIGHTS"))
    online = _flag(env.get("OPENFAL_HF_ONLINE"))
    return AppsSettings(
        data_dir=Path(env.get("OPENFAL_DATA_DIR") or conf.get("data_dir") or ".openfal"),
        demo_weights=bool(conf.get("demo_weights", False)) if demo is None else demo,
        weights=weights,
        hf_online=bool(conf.get("hf_online", False)) if online is None else online,
        max_image_size=_int(
            env.get("OPENFAL_MAX_IMAGE_SIZE") or conf.get("max_image_size"), "max_image_size"
        ),
        max_video_frames=_int(
            env.get("OPENFAL_MAX_VIDEO_FRAMES") or conf.get("max_video_frames"),
            "max_video_frames",
        ),
        device=env.get("OPENFAL_DEVICE") or conf.get("device") or None,
        llm_default=default,
        llm_models=tuple(models),
    )


def runner_env(data_dir: Path, demo_weights: bool, config: Path | None) -> dict[str, str]:
    """What ``openfal serve`` gives its runners: the data dir, the demo flag, the config
    file (``config``, else ``<data dir>/apps.toml`` when it exists). Checked here, so a bad
    file stops the server at start rather than failing every app's setup."""
    env = {"OPENFAL_DATA_DIR": str(data_dir.absolute())}
    if demo_weights:
        env["OPENFAL_DEMO_WEIGHTS"] = "1"
    config = config or (data_dir / "apps.toml")
    if config.exists():
        env["OPENFAL_APPS_CONFIG"] = str(config.absolute())
    elif config != data_dir / "apps.toml":
        raise ValueError(f"apps config {config} does not exist")
    settings({**os.environ, **env})
    return env
