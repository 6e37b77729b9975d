"""report_progress, the current request, the exception tree and the exported names."""

import threading

import pytest

import openfal
import openfal.sdk
from openfal.sdk import RequestContext, bind_request


def test_report_progress_outside_a_request_does_nothing() -> None:
    openfal.report_progress(1, 2, "ignored")
    assert openfal.current_request() is None


def test_report_progress_emits_then_raises_once_cancelled() -> None:
    seen: list[tuple[int, int, str | None]] = []
    request = RequestContext("r-1", {"a": "b"}, on_progress=lambda *args: seen.append(args))
    with bind_request(request):
        assert openfal.current_request() is request
        openfal.report_progress(1, 3, "one")
        request.cancel()
        with pytest.raises(openfal.RequestCancelled):
            openfal.report_progress(2, 3)
    assert seen == [(1, 3, "one")]
    assert openfal.current_request() is None


def test_cancel_is_visible_from_another_thread() -> None:
    request = RequestContext("r-2")
    raised: list[BaseException] = []

    def work() -> None:
        with bind_request(request):
            try:
                openfal.report_progress(1, 1)
            except openfal.RequestCancelled as exc:
                raised.append(exc)

    request.cancel()
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert len(raised) == 1


def test_exception_tree_and_answers() -> None:
    app_error = openfal.AppException("nope", 400)
    field_error = openfal.FieldException("prompt", "too long", type="string_too_long")
    assert (app_error.status_code, app_error.detail) == (400, "nope")
    assert openfal.AppException("boom").status_code == 500
    assert field_error.status_code == 422
    assert field_error.detail == [
        {"loc": ["body", "prompt"], "msg": "too long", "type": "string_too_long"}
    ]
    for cls in (
        openfal.AppException,
        openfal.FieldException,
        openfal.RequestCancelled,
        openfal.sdk.AppDefinitionError,
        openfal.sdk.AppLoadError,
    ):
        assert issubclass(cls, openfal.OpenfalError)
    assert issubclass(openfal.FieldException, openfal.AppException)
    assert not issubclass(openfal.RequestCancelled, openfal.AppException)


def test_exported_names() -> None:
    assert set(openfal.__all__) == {
        "App",
        "endpoint",
        "realtime",
        "report_progress",
        "current_request",
        "AppException",
        "FieldException",
        "RequestCancelled",
        "OpenfalError",
        "__version__",
    }
    assert openfal.__version__ == "0.1.0"
    for module in (openfal, openfal.sdk):
        for name in module.__all__:
            assert hasattr(module, name), name
