"""Dispatcher and supervisor: runs queued requests on runner processes."""

from openfal.worker.pool import ScalingSettings
from openfal.worker.runner_process import RunnerProcess, RunnerState
from openfal.worker.worker import Worker, WorkerConfig

__all__ = ["RunnerProcess", "RunnerState", "ScalingSettings", "Worker", "WorkerConfig"]
