"""Plain-mode routes of an in-process runner: answers, status codes and error shapes."""

import uuid
from typing import Any

import pytest
from pydantic import BaseModel

import openfal
from openfal.runner import build_app

from .helpers import fixture_app, serving


class Empty(BaseModel):
    pass


async def test_echo_root_and_sub_endpoint() -> None:
    async with serving(fixture_app("echo")) as client:
        root = await client.post("/", json={"message": "hi", "repeat": 3})
        upper = await client.post("/upper", json={"message": "hi"})
    assert (root.status_code, root.json()) == (200, {"message": "hihihi"})
    assert (upper.status_code, upper.json()) == (200, {"message": "HI"})


async def test_request_id_is_echoed_or_generated() -> None:
    async with serving(fixture_app("echo")) as client:
        given = await client.post("/", json={"message": "a"}, headers={"x-fal-request-id": "r-1"})
        generated = await client.post("/", json={"message": "a"})
    assert given.headers["x-fal-request-id"] == "r-1"
    uuid.UUID(generated.headers["x-fal-request-id"])


async def test_unknown_path_and_wrong_method_are_404_in_protocol_shape() -> None:
    async with serving(fixture_app("echo")) as client:
        missing = await client.post("/nope", json={})
        wrong_method = await client.get("/upper")
    assert (missing.status_code, missing.json()) == (404, {"detail": "Path /nope not found"})
    assert (wrong_method.status_code, wrong_method.json()) == (
        404,
        {"detail": "Path /upper not found"},
    )


async def test_invalid_input_is_422_with_pydantic_detail() -> None:
    async with serving(fixture_app("echo")) as client:
        too_small = await client.post("/", json={"message": "a", "repeat": 0})
        missing = await client.post("/", json={})
        not_json = await client.post("/", content=b"{not json")
    assert too_small.status_code == 422
    [error] = too_small.json()["detail"]
    assert error["loc"] == ["body", "repeat"]
    assert error["type"] == "greater_than_equal"
    assert error["ctx"] == {"ge": 1}
    assert "url" not in error
    assert missing.json()["detail"][0]["loc"] == ["body", "message"]
    assert missing.json()["detail"][0]["type"] == "missing"
    assert not_json.status_code == 422
    assert not_json.json()["detail"][0]["type"] == "json_invalid"


async def test_unserialisable_validation_context_is_dropped() -> None:
    from pydantic import field_validator

    class Checked(BaseModel):
        value: int

        @field_validator("value")
        @classmethod
        def positive(cls, value: int) -> int:
            if value < 0:
                raise ValueError("must be positive")
            return value

    class App(openfal.App):
        @openfal.endpoint("/")
        def run(self, input: Checked) -> Checked:
            return input

    async with serving(App) as client:
        response = await client.post("/", json={"value": -1})
    [error] = response.json()["detail"]
    assert response.status_code == 422
    assert error["msg"] == "Value error, must be positive"
    assert error["input"] == -1
    assert "ctx" not in error  # it holds the ValueError object


async def test_app_errors_map_to_their_status_and_detail() -> None:
    async with serving(fixture_app("errors")) as client:
        app_error = await client.post("/app-error", json={})
        field_error = await client.post("/field-error", json={"prompt": ""})
        invalid_output = await client.post("/invalid-output", json={"prompt": "x"})
    assert (app_error.status_code, app_error.json()) == (400, {"detail": "app refused the request"})
    assert field_error.status_code == 422
    assert field_error.json() == {
        "detail": [
            {"loc": ["body", "prompt"], "msg": "prompt must not be empty", "type": "value_error"}
        ]
    }
    assert invalid_output.status_code == 500
    assert invalid_output.json() == {"detail": "Internal Server Error"}


async def test_unhandled_exception_is_500() -> None:
    async with serving(fixture_app("crash_in_call")) as client:
        response = await client.post("/", json={})
    assert (response.status_code, response.json()) == (500, {"detail": "Internal Server Error"})


async def test_fastapi_http_exception_keeps_its_status() -> None:
    from fastapi import HTTPException

    class App(openfal.App):
        @openfal.endpoint("/")
        def run(self, input: Empty) -> Empty:
            raise HTTPException(status_code=403, detail="forbidden here")

    async with serving(App) as client:
        response = await client.post("/", json={})
    assert (response.status_code, response.json()) == (403, {"detail": "forbidden here"})


async def test_headers_and_request_id_are_visible_to_sync_and_async_code() -> None:
    class Seen(BaseModel):
        request_id: str
        custom: str

    def seen(app: openfal.App) -> Seen:
        request = app.current_request
        assert request is not None
        return Seen(request_id=request.request_id, custom=request.headers["x-custom"])

    class App(openfal.App):
        @openfal.endpoint("/")
        def sync(self, input: Empty) -> Seen:
            return seen(self)

        @openfal.endpoint("/async")
        async def asynchronous(self, input: Empty) -> Seen:
            return seen(self)

    headers = {"x-fal-request-id": "req-7", "x-custom": "yes"}
    async with serving(App) as client:
        for path in ("/", "/async"):
            response = await client.post(path, json={}, headers=headers)
            assert response.json() == {"request_id": "req-7", "custom": "yes"}


async def test_dict_output_without_model_and_empty_body() -> None:
    class Defaults(BaseModel):
        name: str = "world"

    class App(openfal.App):
        @openfal.endpoint("/")
        async def run(self, input: Defaults) -> dict[str, object]:
            return {"hello": input.name, "model": Defaults(name="nested")}

    async with serving(App) as client:
        response = await client.post("/")
    assert response.json() == {"hello": "world", "model": {"name": "nested"}}


async def test_openapi_describes_endpoint_models() -> None:
    async with serving(fixture_app("echo")) as client:
        schema = (await client.get("/openapi.json")).json()
    assert set(schema["paths"]) == {"/", "/upper"}
    body = schema["paths"]["/"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/EchoInput"}
    output = schema["paths"]["/"]["post"]["responses"]["200"]["content"]["application/json"]
    assert output["schema"] == {"$ref": "#/components/schemas/EchoOutput"}
    assert {"EchoInput", "UpperInput", "EchoOutput"} <= set(schema["components"]["schemas"])


async def test_websocket_endpoints_do_not_answer_http() -> None:
    class App(openfal.App):
        @openfal.endpoint("/ws", is_websocket=True)
        async def ws(self, websocket: Any) -> None:
            await websocket.accept()

        @openfal.endpoint("/")
        def run(self, input: Empty) -> Empty:
            return input

    async with serving(App) as client:
        assert (await client.post("/ws", json={})).status_code == 404
        assert (await client.post("/", json={})).status_code == 200


def test_build_app_reports_a_bad_endpoint_signature() -> None:
    class App(openfal.App):
        @openfal.endpoint("/")
        def run(self, input: dict[str, str]) -> dict[str, str]:
            return input

    with pytest.raises(openfal.sdk.AppDefinitionError, match="pydantic BaseModel"):
        build_app(App)
