"""Per-step progress for diffusers pipelines: status progress, cancel points, log lines."""

from __future__ import annotations

import logging
from typing import Any

import openfal

log = logging.getLogger("openfal.apps")

__all__ = ["StepProgress"]


class StepProgress:
    """A ``callback_on_step_end``: each step reports progress and logs a line.

    ``report_progress`` raises ``RequestCancelled`` once the request is cancelled, which
    unwinds the pipeline at the end of the current step.
    """

    def __init__(self, label: str, total: int) -> None:
        self.label = label
        self.total = total
        self.steps = 0
        # step 0 of N: the status shows the steps to come, and the worker learns that a
        # cancel stops this request at the end of a step (so it keeps the runner)
        openfal.report_progress(0, total, f"{label}: starting")

    def __call__(self, pipe: Any, step: int, timestep: Any, kwargs: dict[str, Any]) -> Any:
        total = int(getattr(pipe, "_num_timesteps", 0) or self.total)
        self.steps = step + 1
        message = f"{self.label}: step {step + 1}/{total}"
        log.info(message)
        openfal.report_progress(step + 1, total, message)
        return kwargs
