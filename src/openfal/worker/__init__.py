"""Dispatcher and supervisor: runs queued requests on runner processes."""

from openfal.worker.gpus import GpuPool, gpus_needed
from openfal.worker.runner_process import RunnerProcess, RunnerState
from openfal.worker.scaling import ScalingSettings
from openfal.worker.worker import Worker, WorkerConfig

__all__ = [
    "Dispatcher",
    "GpuPool",
    "RunnerProcess",
    "RunnerState",
    "ScalingSettings",
    "Supervisor",
    "Worker",
    "WorkerConfig",
    "gpus_needed",
]
