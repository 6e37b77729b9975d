"""The app ``benchmarks/scale.py`` drives: a fixed amount of (simulated GPU) work per call.

Each runner takes one call at a time and needs one GPU, so a worker started with
``--gpus 0,1`` runs two of them and the cluster up to ``max_concurrency`` = 4.
"""

import asyncio

from pydantic import BaseModel, Field

import openfal


class WorkInput(BaseModel):
    seconds: float = Field(default=0.05, ge=0, le=10)


class WorkOutput(BaseModel):
    seconds: float


class Work(
    openfal.App,
    name="bench/work",
    max_concurrency=4,
    max_multiplexing=1,
    num_gpus=1,
    keep_alive=600,
):
    @openfal.endpoint("/")
    async def work(self, input: WorkInput) -> WorkOutput:
        await asyncio.sleep(input.seconds)
        return WorkOutput(seconds=input.seconds)
