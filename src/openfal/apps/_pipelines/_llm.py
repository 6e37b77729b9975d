"""Chat backends for any-llm: a local transformers model, or an OpenAI-compatible server.

Both stream text pieces and stop when ``cancelled()`` turns true, so a cancel ends a
generation within one token (local) or one streamed chunk (forwarded).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from openfal.apps._pipelines._device import Placement
from openfal.apps._pipelines._weights import WeightsSource
from openfal.apps._settings import ForwardedModel
from openfal.sdk import AppException

log = logging.getLogger("openfal.apps")

__all__ = ["ChatBackend", "ChatParams", "LocalChat", "OpenAIChat", "TokenStreamer"]

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class ChatParams:
    max_tokens: int | None = None
    temperature: float | None = None


class ChatBackend(Protocol):
    name: str

    def stream(
        self, messages: Messages, params: ChatParams, cancelled: Callable[[], bool]
    ) -> Iterator[str]: ...


class LocalChat:
    """A causal LM loaded with transformers; generation runs in a thread, text streams out."""

    def __init__(self, source: WeightsSource, placement: Placement, max_tokens: int) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        kwargs = source.load_kwargs()
        self.name = "local" if source.demo else source.location
        self.default_max_tokens = max_tokens
        self.tokenizer = AutoTokenizer.from_pretrained(source.location, **kwargs)
        self.model = AutoModelForCausalLM.from_pretrained(
            source.location, dtype=placement.dtype, **kwargs
        ).to(placement.device)
        self.model.eval()
        self.device = placement.device

    def _generate_kwargs(self, messages: Messages, params: ChatParams) -> dict[str, Any]:
        inputs = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        kwargs: dict[str, Any] = {k: v.to(self.device) for k, v in inputs.items()}
        kwargs["max_new_tokens"] = params.max_tokens or self.default_max_tokens
        if params.temperature is not None:
            kwargs["do_sample"] = params.temperature > 0
            if params.temperature > 0:
                kwargs["temperature"] = params.temperature
        return kwargs

    def stream(
        self, messages: Messages, params: ChatParams, cancelled: Callable[[], bool]
    ) -> Iterator[str]:
        from transformers import StoppingCriteriaList

        stop = threading.Event()  # the reader went away: stop generating for nobody

        def should_stop(input_ids: Any, scores: Any, **kwargs: Any) -> bool:
            return stop.is_set() or cancelled()

        streamer = TokenStreamer(self.tokenizer)
        kwargs = self._generate_kwargs(messages, params)
        kwargs.update(streamer=streamer, stopping_criteria=StoppingCriteriaList([should_stop]))
        failure: list[BaseException] = []

        def generate() -> None:
            try:
                self.model.generate(**kwargs)
            except BaseException as exc:  # re-raised in the caller's thread
                failure.append(exc)
                streamer.end()

        thread = threading.Thread(target=generate, name="openfal-llm", daemon=True)
        thread.start()
        try:
            for text in streamer:
                if cancelled():
                    break  # pieces decoded ahead of the reader are dropped, not sent
                if text:
                    yield text
        finally:
            stop.set()
            thread.join()
        if failure:
            raise failure[0]


class TokenStreamer:
    """What ``generate(streamer=...)`` feeds token ids to, iterated for the new text of each
    token. Unlike transformers' text streamers it does not hold text back until a space:
    only a token that ends inside a UTF-8 character waits for the next one."""

    def __init__(self, tokenizer: Any, timeout: float = 600.0) -> None:
        self.tokenizer = tokenizer
        self.timeout = timeout
        self.ids: list[int] = []
        self.sent = 0  # characters of the decoded text already yielded
        self.prompt_seen = False
        self.queue: queue.Queue[str | None] = queue.Queue()

    def put(self, value: Any) -> None:
        if not self.prompt_seen:  # generate() first puts the prompt
            self.prompt_seen = True
            return
        self.ids.extend(int(i) for i in value.reshape(-1).tolist())
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if text.endswith("\ufffd"):
            return  # a character split across tokens: wait for the rest of it
        if len(text) > self.sent:
            self.queue.put(text[self.sent :])
            self.sent = len(text)

    def end(self) -> None:
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if len(text) > self.sent:
            self.queue.put(text[self.sent :])
        self.queue.put(None)

    def __iter__(self) -> Iterator[str]:
        while (text := self.queue.get(timeout=self.timeout)) is not None:
            yield text


class OpenAIChat:
    """Forwards to ``{base_url}/chat/completions`` with ``stream: true`` (vLLM, llama.cpp,
    Ollama and others speak it) and yields each chunk's ``delta.content``."""

    def __init__(self, model: ForwardedModel, timeout: float = 600.0) -> None:
        self.name = model.name
        self.model = model
        headers = {"authorization": f"Bearer {model.api_key}"} if model.api_key else {}
        self.http = httpx.Client(
            base_url=model.base_url, headers=headers, timeout=httpx.Timeout(timeout, connect=10)
        )

    def _body(self, messages: Messages, params: ChatParams) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model.model, "messages": messages, "stream": True}
        if params.max_tokens is not None:
            body["max_tokens"] = params.max_tokens
        if params.temperature is not None:
            body["temperature"] = params.temperature
        return body

    def stream(
        self, messages: Messages, params: ChatParams, cancelled: Callable[[], bool]
    ) -> Iterator[str]:
        try:
            with self.http.stream(
                "POST", "/chat/completions", json=self._body(messages, params)
            ) as response:
                if response.status_code != 200:
                    response.read()
                    raise AppException(
                        f"LLM server {self.model.base_url} answered {response.status_code}: "
                        f"{response.text[:500]}",
                        502,
                    )
                for text in _sse_deltas(response.iter_lines()):
                    if cancelled():
                        return
                    yield text
        except httpx.HTTPError as exc:
            raise AppException(f"LLM server {self.model.base_url} failed: {exc}", 502) from exc

    def close(self) -> None:
        self.http.close()


def _sse_deltas(lines: Iterator[str]) -> Iterator[str]:
    """The content deltas of an OpenAI chat-completions event stream, until ``[DONE]``."""
    for line in lines:
        if not line.startswith("data:"):
            continue  # blank separators, comments, event names
        data = line[5:].strip()
        if data == "[DONE]":
            return
        chunk = json.loads(data)
        if chunk.get("error"):
            raise AppException(f"LLM server error: {chunk['error']}", 502)
        for choice in chunk.get("choices") or []:
            text = (choice.get("delta") or {}).get("content")
            if text:
                yield text
