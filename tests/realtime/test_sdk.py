"""`@openfal.realtime` and streaming endpoints as the SDK sees them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pydantic import BaseModel

import openfal
from openfal.sdk import AppDefinitionError, RealtimeSpec, collect_endpoints, describe


class In(BaseModel):
    prompt: str


class Out(BaseModel):
    text: str


def test_realtime_records_its_settings_and_models() -> None:
    class App(openfal.App):
        @openfal.realtime("/live", buffering=3, session_timeout=5, max_batch_size=2)
        def live(self, *inputs: In) -> Out:
            return Out(text="")

        @openfal.realtime()
        async def tokens(self, input: In) -> AsyncIterator[Out]:
            yield Out(text="")

    found = collect_endpoints(App)
    live, tokens = found["live"], found["realtime"]
    assert live.realtime == RealtimeSpec(buffering=3, session_timeout=5, max_batch_size=2)
    assert (live.input_model, live.output_model, live.is_websocket) == (In, Out, True)
    assert (tokens.is_generator, tokens.is_async, tokens.output_model) == (True, True, Out)
    described = describe(App)["endpoints"]
    assert described["live"]["websocket"] == "realtime"
    assert described["realtime"]["streaming"] is True
    assert described["live"]["input_schema"]["title"] == "In"


def test_generator_endpoints_are_streaming_with_the_item_model() -> None:
    class App(openfal.App):
        @openfal.endpoint("/")
        def sync(self, input: In) -> Iterator[Out]:
            yield Out(text="")

        @openfal.endpoint("/async")
        async def run(self, input: In) -> AsyncIterator[dict[str, Any]]:
            yield {}

    found = collect_endpoints(App)
    assert (found[""].is_generator, found[""].is_async, found[""].output_model) == (
        True,
        False,
        Out,
    )
    assert (found["async"].is_generator, found["async"].output_model) == (True, None)
    assert describe(App)["endpoints"][""]["streaming"] is True


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ({"buffering": 0}, "buffering must be at least 1"),
        ({"session_timeout": 0}, "session_timeout must be > 0"),
        ({"max_batch_size": 0}, "max_batch_size must be >= 1"),
    ],
)
def test_realtime_settings_are_checked(keywords: dict[str, Any], message: str) -> None:
    with pytest.raises(AppDefinitionError, match=message):
        openfal.realtime("/x", **keywords)


def test_batched_realtime_methods_take_star_inputs() -> None:
    class One(openfal.App):
        @openfal.realtime(max_batch_size=4)
        def live(self, input: In) -> Out:
            return Out(text="")

    class Many(openfal.App):
        @openfal.realtime()
        def live(self, *inputs: In) -> Out:
            return Out(text="")

    with pytest.raises(AppDefinitionError, match=r"declare the input as '\*input'"):
        collect_endpoints(One)
    with pytest.raises(AppDefinitionError, match="declare the input as 'inputs'"):
        collect_endpoints(Many)


def test_a_method_serves_one_endpoint() -> None:
    with pytest.raises(AppDefinitionError, match="one endpoint only"):

        class App(openfal.App):
            @openfal.realtime("/a")
            @openfal.endpoint("/b")
            def both(self, input: In) -> Out:
                return Out(text="")
