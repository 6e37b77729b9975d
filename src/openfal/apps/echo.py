"""``openfal/echo``: the smallest useful app, for trying the platform and measuring overhead."""

from __future__ import annotations

from pydantic import BaseModel, Field

import openfal


class EchoInput(BaseModel):
    message: str = Field(description="Text to send back", examples=["hello"])
    repeat: int = Field(default=1, ge=1, le=100, description="How many times to repeat it")


class EchoOutput(BaseModel):
    message: str


class Echo(
    openfal.App, name="openfal/echo", keep_alive=600, max_multiplexing=32, max_concurrency=1
):
    """Answers with the message it was given (repeated ``repeat`` times)."""

    @openfal.endpoint("/")
    async def echo(self, input: EchoInput) -> EchoOutput:
        return EchoOutput(message=input.message * input.repeat)
