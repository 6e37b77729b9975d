"""examples/steps: a slow job that logs each step and reports progress.

    curl -s -X POST localhost:8000/examples/steps -H 'content-type: application/json' \
         -d '{"steps": 3, "tag": "hi"}'

Shows logs (``print``), progress (``openfal.report_progress``, which also stops the job at
the next step when the request is cancelled) and input validation (``steps`` 1..100).
"""

import time

from pydantic import BaseModel, Field

import openfal


class StepsInput(BaseModel):
    steps: int = Field(default=3, ge=1, le=100, description="how many steps to take")
    delay: float = Field(default=0.2, ge=0, le=10, description="seconds per step")
    tag: str = Field(default="", description="echoed back, and printed on every step")


class StepsOutput(BaseModel):
    steps: int
    tag: str


class Steps(openfal.App, name="examples/steps", max_concurrency=1, keep_alive=300):
    @openfal.endpoint("/")
    def run(self, input: StepsInput) -> StepsOutput:
        total = input.steps
        for step in range(1, total + 1):
            print(f"step {step} of {total} {input.tag}")  # this request's logs
            openfal.report_progress(step, total, f"step {step}")  # raises once cancelled
            time.sleep(input.delay)
        return StepsOutput(steps=total, tag=input.tag)
