"""The pipeline layer of the built-in apps: weights, device, progress, safety, encoders.

Nothing here imports torch at module import; the apps call these from ``setup()``.
"""

from openfal.apps._pipelines._device import Placement, choose_placement
from openfal.apps._pipelines._diffusion import load_pipeline, quiet_libraries, seeded_generator
from openfal.apps._pipelines._llm import ChatBackend, ChatParams, LocalChat, OpenAIChat
from openfal.apps._pipelines._progress import StepProgress
from openfal.apps._pipelines._safety import SafetyChecker
from openfal.apps._pipelines._sizes import fit_size, pick_seed
from openfal.apps._pipelines._video import encode_mp4
from openfal.apps._pipelines._weights import WeightsSource, demo_folder, resolve_weights

__all__ = [
    "ChatBackend",
    "ChatParams",
    "LocalChat",
    "OpenAIChat",
    "Placement",
    "SafetyChecker",
    "StepProgress",
    "WeightsSource",
    "choose_placement",
    "demo_folder",
    "encode_mp4",
    "fit_size",
    "load_pipeline",
    "pick_seed",
    "quiet_libraries",
    "resolve_weights",
    "seeded_generator",
]
