"""A small real OpenAI-compatible chat server for tests: ``POST /v1/chat/completions``.

It streams ``chat.completion.chunk`` events over SSE (``data: {...}`` then ``data: [DONE]``),
the format vLLM, llama.cpp and Ollama speak, replying ``"<model> heard: <last message>"``
one word per chunk. It runs uvicorn in a thread on 127.0.0.1 and records every request.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.e2e.harness import free_port, wait_for


def reply_text(model: str, messages: list[dict[str, str]]) -> str:
    return f"{model} heard: {messages[-1]['content']}"


def _chunk(model: str, delta: dict[str, str], finish: str | None = None) -> bytes:
    body = {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n".encode()


class OpenAIServer:
    def __init__(self, api_key: str | None = None) -> None:
        self.api_key = api_key
        self.port = free_port()
        self.requests: list[dict[str, Any]] = []
        app = Starlette(routes=[Route("/v1/chat/completions", self._chat, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def _chat(self, request: Request) -> Response:
        if self.api_key and request.headers.get("authorization") != f"Bearer {self.api_key}":
            return JSONResponse({"error": {"message": "bad key"}}, status_code=401)
        body = await request.json()
        self.requests.append(body)
        model = body["model"]
        words = reply_text(model, body["messages"]).split(" ")

        async def events() -> AsyncIterator[bytes]:
            yield _chunk(model, {"role": "assistant"})
            for i, word in enumerate(words):
                yield _chunk(model, {"content": word if i == 0 else " " + word})
            yield _chunk(model, {}, "stop")
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    def __enter__(self) -> OpenAIServer:
        self.thread.start()
        wait_for(lambda: self.server.started, 30, what="the OpenAI test server")
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)
