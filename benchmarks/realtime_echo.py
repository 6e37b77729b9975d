"""A realtime echo app for benchmarks/realtime.py: each frame comes straight back."""

from pydantic import BaseModel

import openfal


class Frame(BaseModel):
    n: int
    payload: str = ""


class RealtimeEcho(openfal.App, name="bench/echo", max_concurrency=1, keep_alive=600):
    @openfal.realtime("/realtime")
    async def echo(self, frame: Frame) -> Frame:
        return frame
