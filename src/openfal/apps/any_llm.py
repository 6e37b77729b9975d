"""``fal-ai/any-llm``: chat completion, whole or streamed, from a local model or a forwarder.

``POST /fal-ai/any-llm`` answers the whole output; ``POST /fal-ai/any-llm/stream`` sends
``{output, partial: true}`` events as text arrives and ends with ``partial: false``.

Which backend answers a ``model`` name: the operator's forwarded models (``[llm.models]``,
matched by name or alias) first; any other name (fal's catalogue, such as
``google/gemini-flash-1.5``) runs on the default backend, with a log line saying so.
The default is the local transformers model (demo weights when none is configured)
unless the operator names a forwarder.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from pydantic import BaseModel, Field

import openfal
from openfal.apps._pipelines import (
    ChatBackend,
    ChatParams,
    LocalChat,
    OpenAIChat,
    choose_placement,
    resolve_weights,
)
from openfal.apps._settings import LOCAL_LLM, settings

log = logging.getLogger("openfal.apps")

DEFAULT_MODEL = "google/gemini-flash-1.5"


class LLMInput(BaseModel):
    prompt: str = Field(
        description="The prompt to answer.", examples=["What is the meaning of life?"]
    )
    system_prompt: str | None = Field(default=None, description="Instructions for the model.")
    model: str = Field(
        default=DEFAULT_MODEL,
        description="The model to use; names this server does not serve run on its default.",
    )
    reasoning: bool = Field(default=False, description="Ask for reasoning (where supported).")
    temperature: float | None = Field(default=None, ge=0, le=2, description="Sampling.")
    max_tokens: int | None = Field(default=None, ge=1, le=32768, description="Longest answer.")


class LLMOutput(BaseModel):
    output: str = Field(description="The answer so far (all of it when partial is false).")
    reasoning: str | None = Field(default=None, description="The model's reasoning, if any.")
    partial: bool = Field(default=False, description="True while more is coming.")
    error: str | None = Field(default=None, description="Why generation stopped early.")
    demo_weights: bool = Field(
        default=False, description="True when the local model runs random demo weights."
    )


class AnyLLM(
    openfal.App,
    name="fal-ai/any-llm",
    keep_alive=600,
    max_concurrency=1,
    startup_timeout=1800,
):
    """Chat completion over a local model or an OpenAI-compatible server."""

    def setup(self) -> None:
        logging.getLogger("openfal.apps").setLevel(logging.INFO)
        self.config = settings()
        self.backends: dict[str, ChatBackend] = {
            model.name: OpenAIChat(model) for model in self.config.llm_models
        }
        self.demo = False
        if self.config.llm_default == LOCAL_LLM or self.config.weights_for("llm"):
            from openfal.apps._pipelines import quiet_libraries

            quiet_libraries()
            source = resolve_weights(self.config, "llm")
            placement = choose_placement(self.config.device)
            self.backends[LOCAL_LLM] = LocalChat(source, placement, max_tokens=512)
            self.demo = source.demo
            log.info("local LLM %s on %s", source.describe(), placement.describe())
        self.default = self.config.llm_default
        for model in self.config.llm_models:
            log.info("LLM %s forwarded to %s as %s", model.name, model.base_url, model.model)

    def teardown(self) -> None:
        for backend in self.backends.values():
            if isinstance(backend, OpenAIChat):
                backend.close()

    def _backend(self, name: str) -> ChatBackend:
        forwarded = self.config.forwarded(name)
        if forwarded is not None:
            return self.backends[forwarded.name]
        if name != self.default:
            log.info("model %r is not configured here; answering with %r", name, self.default)
        return self.backends[self.default]

    def _pieces(self, input: LLMInput, backend: ChatBackend) -> Iterator[str]:
        messages = [{"role": "user", "content": input.prompt}]
        if input.system_prompt:
            messages.insert(0, {"role": "system", "content": input.system_prompt})
        request = openfal.current_request()
        params = ChatParams(max_tokens=input.max_tokens, temperature=input.temperature)
        cancelled = request.cancel_event.is_set if request else (lambda: False)
        pieces = backend.stream(messages, params, cancelled)
        for count, piece in enumerate(pieces, start=1):
            openfal.report_progress(count, max(count, input.max_tokens or 0))  # cancel point
            yield piece

    def _is_demo(self, backend: ChatBackend) -> bool:
        return self.demo and backend is self.backends.get(LOCAL_LLM)

    @openfal.endpoint("/")
    def complete(self, input: LLMInput) -> Iterator[LLMOutput]:
        """The answer so far after every piece (``partial: true``), then all of it
        (``partial: false``). A direct run answers the last item; ``/stream`` sends each."""
        backend = self._backend(input.model)
        demo = self._is_demo(backend)
        text = ""
        for piece in self._pieces(input, backend):
            text += piece
            yield LLMOutput(output=text, partial=True, demo_weights=demo)
        yield LLMOutput(output=text, partial=False, demo_weights=demo)
