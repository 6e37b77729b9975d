"""The baseline: the echo endpoint as a bare FastAPI app under uvicorn, no platform."""

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class EchoInput(BaseModel):
    message: str
    repeat: int = 1


@app.post("/")
async def echo(input: EchoInput) -> dict[str, str]:
    return {"message": input.message * input.repeat}
