"""examples/streamer: a generator endpoint, served as server-sent events on ``/stream``.

    curl -sN -X POST localhost:8000/examples/streamer/stream \
         -H 'content-type: application/json' -d '{"count": 3, "prompt": "tok"}'

Each yielded item is one event; the last one is the request's output (what ``run`` and the
queue answer). ``fail_before`` shows an error answered before the first event.
"""

import asyncio
from collections.abc import AsyncIterator

from pydantic import BaseModel, Field

import openfal


class StreamInput(BaseModel):
    prompt: str = "token"
    count: int = Field(default=5, ge=1, le=1000)
    delay: float = Field(default=0.1, ge=0, le=10, description="seconds between events")
    fail_before: bool = False


class Chunk(BaseModel):
    index: int
    text: str
    partial: bool


class Streamer(openfal.App, name="examples/streamer", max_multiplexing=4):
    @openfal.endpoint("/")
    async def stream(self, input: StreamInput) -> AsyncIterator[Chunk]:
        if input.fail_before:
            raise openfal.AppException("refused before the first event", status_code=418)
        for i in range(input.count):
            yield Chunk(index=i, text=f"{input.prompt}{i}", partial=i < input.count - 1)
            await asyncio.sleep(input.delay)
