"""@endpoint, endpoint discovery, describe() and endpoint_models()."""

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import openfal
from openfal.sdk import AppDefinitionError, collect_endpoints, describe, endpoint_models, load_app

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "apps"


class In(BaseModel):
    text: str


class Out(BaseModel):
    length: int


def test_describe_echo() -> None:
    echo = load_app(str(FIXTURES / "echo.py"))
    description = describe(echo)
    assert description["app_id"] == "openfal/echo"
    assert description["settings"]["keep_alive"] == 60
    assert set(description["endpoints"]) == {"", "upper"}
    root = description["endpoints"][""]
    assert root["input_schema"]["required"] == ["message"]
    assert root["input_schema"]["properties"]["repeat"]["maximum"] == 100
    assert root["output_schema"]["title"] == "EchoOutput"


def test_endpoint_models_and_output_without_model() -> None:
    class App(openfal.App):
        @openfal.endpoint("/")
        def root(self, input: In) -> Out:
            return Out(length=len(input.text))

        @openfal.endpoint("/raw/dict")
        async def raw(self, input: In) -> dict[str, Any]:
            return {}

    assert endpoint_models(App) == {"": (In, Out), "raw/dict": (In, None)}
    assert describe(App)["endpoints"]["raw/dict"]["output_schema"] is None
    found = collect_endpoints(App)
    assert (found[""].is_async, found["raw/dict"].is_async) == (False, True)
    assert found["raw/dict"].url_path == "/raw/dict"


def test_inherited_endpoints_and_overrides() -> None:
    class Base(openfal.App):
        @openfal.endpoint("/")
        def root(self, input: In) -> Out:
            return Out(length=0)

    class Child(Base):
        @openfal.endpoint("/extra")
        def extra(self, input: In) -> Out:
            return Out(length=1)

    assert set(endpoint_models(Child)) == {"", "extra"}


def test_websocket_endpoints_are_flagged_and_have_no_http_models() -> None:
    class App(openfal.App):
        @openfal.endpoint("/ws", is_websocket=True)
        async def ws(self, websocket: Any) -> None:
            await websocket.accept()

    found = collect_endpoints(App)["ws"]
    assert found.is_websocket and found.input_model is None and found.realtime is None
    assert endpoint_models(App) == {}
    assert describe(App)["endpoints"] == {
        "ws": {"input_schema": None, "output_schema": None, "websocket": "raw"}
    }


def test_a_sync_websocket_endpoint_is_refused() -> None:
    class App(openfal.App):
        @openfal.endpoint("/ws", is_websocket=True)
        def ws(self, websocket: Any) -> None:
            pass

    with pytest.raises(AppDefinitionError, match="async def ws"):
        collect_endpoints(App)


def test_describe_makes_unknown_settings_json_safe() -> None:
    class Image:
        def __str__(self) -> str:
            return "image:latest"

    with pytest.warns(openfal.sdk.UnknownSettingWarning):

        class App(openfal.App):
            image = Image()

    assert describe(App)["settings"]["image"] == "image:latest"


@pytest.mark.parametrize(
    ("path", "problem"),
    [("no-slash", "start with '/'"), ("/trailing/", "end with '/'"), ("/a/cancel", "/cancel")],
)
def test_bad_paths_are_refused(path: str, problem: str) -> None:
    with pytest.raises(AppDefinitionError, match=problem):
        openfal.endpoint(path)


def test_signature_problems_are_explained() -> None:
    class NoAnnotation(openfal.App):
        @openfal.endpoint("/")
        def run(self, input):  # type: ignore[no-untyped-def]
            return input

    class TwoInputs(openfal.App):
        @openfal.endpoint("/")
        def run(self, a: In, b: In) -> Out:
            return Out(length=0)

    class SamePath(openfal.App):
        @openfal.endpoint("/x")
        def one(self, input: In) -> Out:
            return Out(length=0)

        @openfal.endpoint("/x")
        def two(self, input: In) -> Out:
            return Out(length=0)

    with pytest.raises(AppDefinitionError, match="pydantic BaseModel"):
        describe(NoAnnotation)
    with pytest.raises(AppDefinitionError, match="exactly one input"):
        describe(TwoInputs)
    with pytest.raises(AppDefinitionError, match="both serve '/x'"):
        describe(SamePath)
