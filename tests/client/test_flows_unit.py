"""Flows driven by hand: feed responses in, read the operations out (no network, no sleep)."""

from __future__ import annotations

import email.utils
import time

import httpx
import pytest

from openfal.client import FalClientConnectionError, FalClientHTTPError, FalClientTimeoutError
from openfal.client import _flows as flows
from openfal.client._ops import Call, Deadline, DeadlineExceeded, Emit, Send, Sleep, relay
from openfal.client._retry import MAX_ATTEMPTS, retry_after
from openfal.client._server import Server

SERVER = Server("http://openfal.test", key="k")


def answer(status: int, body: bytes = b"{}", **headers: str) -> httpx.Response:
    return httpx.Response(
        status, content=body, headers={k.replace("_", "-"): v for k, v in headers.items()}
    )


def request(**headers: str) -> httpx.Request:
    return SERVER.request("POST", "http://openfal.test/a/b", json_body={}, headers=headers)


def test_retry_after_is_honoured_then_success():
    flow = flows.call(request(), timeout=10)
    assert isinstance(next(flow), Send)
    assert flow.send(answer(429, retry_after="2")) == Sleep(2.0)
    assert isinstance(next(flow), Send)
    with pytest.raises(StopIteration) as done:
        flow.send(answer(200, b'{"ok": true}'))
    assert done.value.value.json() == {"ok": True}


def test_retry_after_as_an_http_date():
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 28 <= (retry_after(when) or 0) <= 30
    assert retry_after("soon") is None
    assert retry_after("100000") == 120.0


@pytest.mark.parametrize(
    ("response", "retried"),
    [
        (answer(408), True),
        (answer(409), True),
        (answer(503, b"<html>nginx</html>"), True),  # ingress: no request id
        (answer(503, b"busy", retry_after="1"), True),
        (answer(503, b'{"detail": "x"}', **{"x-fal-request-id": "r"}), False),
        (answer(504, b"nginx", **{"x-fal-request-timeout-type": "user"}), False),
        (answer(500), False),
        (answer(400), False),
    ],
)
def test_which_answers_are_retried(response: httpx.Response, retried: bool):
    flow = flows.call(request(), timeout=10)
    next(flow)
    if retried:
        assert isinstance(flow.send(response), Sleep)
    else:
        with pytest.raises(FalClientHTTPError) as e:
            flow.send(response)
        assert e.value.status_code == response.status_code


def test_transport_errors_are_retried_up_to_the_limit():
    req = request()
    flow = flows.call(req, timeout=10)
    next(flow)
    for _ in range(MAX_ATTEMPTS - 1):
        sleep = flow.throw(httpx.ConnectError("refused", request=req))
        assert isinstance(sleep, Sleep) and 0 < sleep.seconds <= 30 * 1.5
        assert isinstance(next(flow), Send)
    with pytest.raises(FalClientConnectionError, match="refused"):
        flow.throw(httpx.ConnectError("refused", request=req))


def test_a_timeout_is_not_retried_when_the_request_set_a_start_timeout():
    req = request(**{"x-fal-request-timeout": "5.0"})
    flow = flows.call(req, timeout=10)
    next(flow)
    with pytest.raises(FalClientTimeoutError):
        flow.throw(httpx.ReadTimeout("slow", request=req))


def test_http_error_fields():
    body = b'{"detail": [{"loc": ["body", "x"], "msg": "bad", "type": "t"}]}'
    flow = flows.call(request(), timeout=10)
    next(flow)
    with pytest.raises(FalClientHTTPError) as e:
        flow.send(answer(422, body, **{"x-fal-error-type": "bad_input", "x-fal-request-id": "r"}))
    assert e.value.message[0]["loc"] == ["body", "x"]
    assert (e.value.error_type, e.value.request_id) == ("bad_input", "r")


def test_deadline_bounds_sleeps_and_raises_when_spent():
    deadline = Deadline.after(0.5)
    flow = flows.call(request(), timeout=10, deadline=deadline)
    sent = next(flow)
    assert isinstance(sent, Send)
    assert sent.request.extensions["timeout"]["read"] <= 0.5
    sleep = flow.send(answer(429, retry_after="60"))
    assert isinstance(sleep, Sleep) and sleep.seconds <= 0.5
    spent = Deadline(time.monotonic() - 1)
    with pytest.raises(DeadlineExceeded):
        spent.remaining()


def test_relay_turns_emits_into_callbacks_and_returns_the_result():
    def inner():
        got = yield Emit("a")
        assert got == "called"
        yield Emit("b")
        return "done"

    seen: list[str] = []
    flow = relay(inner(), seen.append)
    op = next(flow)
    assert op == Call(seen.append, ("a",))
    op = flow.send("called")
    assert op == Call(seen.append, ("b",))
    with pytest.raises(StopIteration) as stop:
        flow.send(None)
    assert stop.value.value == "done"


def test_handle_urls_drop_the_endpoint_path_and_keep_namespaces():
    h = flows.handle_urls(SERVER, "comfy/me/app/sub/path", "r1")
    assert h.response_url == "http://openfal.test/queue/comfy/me/app/requests/r1"
    assert h.status_url.endswith("/requests/r1/status")
    assert flows.handle_urls(SERVER, "1234-legacy", "r").response_url.endswith(
        "/queue/1234/legacy/requests/r"
    )
    with pytest.raises(ValueError, match="appOwner"):
        flows.handle_urls(SERVER, "nonsense", "r")


def test_start_timeout_and_priority_are_checked_before_sending():
    with pytest.raises(ValueError, match="greater than 1"):
        next(flows.submit(SERVER, "a/b", {}, headers={}, start_timeout=1))
    with pytest.raises(ValueError, match="'normal' or 'low'"):
        next(flows.submit(SERVER, "a/b", {}, headers={}, priority="high"))
    sent = next(flows.submit(SERVER, "a/b", {}, headers={}, start_timeout=5, priority="low"))
    assert isinstance(sent, Send)
    assert sent.request.headers["x-fal-request-timeout"] == "5.0"
    assert sent.request.headers["x-fal-queue-priority"] == "low"
    assert sent.request.headers["authorization"] == "Key k"
