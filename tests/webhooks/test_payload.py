"""The webhook body: fal's OK, ERROR and payload_error shapes."""

from __future__ import annotations

import json

import pytest

from openfal.webhooks import build_payload


def parse(body: bytes) -> dict[str, object]:
    document = json.loads(body)
    assert isinstance(document, dict)
    return document


def test_ok_shape() -> None:
    output = {"images": [{"url": "https://x/y.png", "width": 512}], "seed": 42}
    body = build_payload("req-1", 200, json.dumps(output).encode(), None)
    document = parse(body)
    assert document == {
        "request_id": "req-1",
        "gateway_request_id": "req-1",
        "status": "OK",
        "payload": output,
    }
    assert list(document) == ["request_id", "gateway_request_id", "status", "payload"]


def test_error_shape_with_422_detail() -> None:
    detail = {"detail": [{"loc": ["body", "prompt"], "msg": "field required", "type": "missing"}]}
    document = parse(build_payload("req-2", 422, json.dumps(detail).encode(), None))
    assert document == {
        "request_id": "req-2",
        "gateway_request_id": "req-2",
        "status": "ERROR",
        "error": "Invalid status code: 422",
        "payload": detail,
    }
    assert list(document) == ["request_id", "gateway_request_id", "status", "error", "payload"]


def test_explicit_error_message_wins() -> None:
    document = parse(build_payload("r", 500, b'{"detail": "boom"}', "Runner crashed"))
    assert document["status"] == "ERROR"
    assert document["error"] == "Runner crashed"
    assert document["payload"] == {"detail": "boom"}


def test_error_with_2xx_status_is_still_an_error() -> None:
    document = parse(build_payload("r", 200, b"{}", "Request timed out"))
    assert document["status"] == "ERROR"
    assert document["error"] == "Request timed out"


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\xfe not utf-8 \x80",
        b'{"truncated": ',
        b'{"x": NaN}',
        b"Infinity",
        b"<html>502 Bad Gateway</html>",
    ],
)
def test_unserialisable_output_gives_null_payload_and_payload_error(body: bytes) -> None:
    document = parse(build_payload("r", 200, body, None))
    assert document["status"] == "OK"
    assert document["payload"] is None
    assert isinstance(document["payload_error"], str)
    assert document["payload_error"].startswith("Response payload is not JSON serializable")
    assert list(document)[-2:] == ["payload", "payload_error"]


def test_unserialisable_error_body() -> None:
    document = parse(build_payload("r", 500, b"Internal Server Error", None))
    assert document["status"] == "ERROR"
    assert document["error"] == "Invalid status code: 500"
    assert document["payload"] is None
    assert "payload_error" in document


@pytest.mark.parametrize("body", [b"", b"  \n"])
def test_empty_body_is_null_payload_without_error(body: bytes) -> None:
    document = parse(build_payload("r", 200, body, None))
    assert document["payload"] is None
    assert "payload_error" not in document


@pytest.mark.parametrize("value", [None, 0, "text", [1, 2], True])
def test_any_json_value_is_a_payload(value: object) -> None:
    assert parse(build_payload("r", 200, json.dumps(value).encode(), None))["payload"] == value


def test_output_is_ascii_json_that_keeps_unicode() -> None:
    body = build_payload("r", 200, json.dumps({"prompt": "Kätzchen 🐱"}).encode(), None)
    body.decode("ascii")
    assert parse(body)["payload"] == {"prompt": "Kätzchen 🐱"}
