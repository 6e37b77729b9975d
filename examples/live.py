"""examples/live: realtime websocket endpoints (msgpack frames, one runner per session).

``/realtime`` answers each input with its echo; ``/short`` closes a session after 2 s
without input. Connect with ``fal_client.realtime("examples/live")`` (see the README).
"""

import os

from pydantic import BaseModel

import openfal


class LiveInput(BaseModel):
    prompt: str
    n: int = 0


class LiveOutput(BaseModel):
    echo: str
    n: int
    pid: int  # the runner's process id: one runner keeps the whole session


class Live(openfal.App, name="examples/live", max_concurrency=2, keep_alive=300):
    @openfal.realtime("/realtime")
    def realtime(self, input: LiveInput) -> LiveOutput:
        return LiveOutput(echo=input.prompt, n=input.n, pid=os.getpid())

    @openfal.realtime("/short", session_timeout=2)
    async def short(self, input: LiveInput) -> LiveOutput:
        return LiveOutput(echo=input.prompt, n=input.n, pid=os.getpid())
