"""Dispatcher and supervisor: runs queued requests on runner processes."""

from openfal.worker.gpus import GpuPool, gpus_needed
from openfal.worker.pool import ScalingSettings
from openfal.worker.runner_process import RunnerProcess, RunnerState
from openfal.worker.worker import Worker, WorkerConfig

__all__ = [
    "GpuPool",
    "RunnerProcess",
    "RunnerState",
    "ScalingSettings",
    "Worker",
    "WorkerConfig",
    "gpus_needed",
]
