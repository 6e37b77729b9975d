"""Errors the gateway answers with, and the one handler that renders every
:class:`~openfal.errors.OpenfalError` (the whole tree is drawn in :mod:`openfal.errors`).

Anything else escaping a route is a 500 {"detail": "Internal server error", "request_id"}
whose traceback goes to the server log only.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from openfal.errors import OpenfalError

log = logging.getLogger("openfal.gateway")


class GatewayError(OpenfalError):
    """An answer a route gives on purpose (``detail`` may be any JSON value)."""

    status_code = 500
    error_type: str | None = "internal_error"

    def __init__(
        self,
        detail: Any,
        *,
        status_code: int | None = None,
        error_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if status_code is not None:
            self.status_code = status_code
        if error_type is not None:
            self.error_type = error_type
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"detail": self.detail}
        if self.error_type:
            body["error_type"] = self.error_type
        return body


class BadRequest(GatewayError):
    status_code = 400
    error_type = "bad_request"


class Unauthorized(GatewayError):
    status_code = 401
    error_type = "unauthorized"


class Forbidden(GatewayError):
    status_code = 403
    error_type = "forbidden"


class RangeNotSatisfiable(GatewayError):
    status_code = 416
    error_type = "range_not_satisfiable"


class NotFound(GatewayError):
    status_code = 404
    error_type = None


class PayloadTooLarge(GatewayError):
    status_code = 413
    error_type = "payload_too_large"


class ServiceUnavailable(GatewayError):
    status_code = 503
    error_type = "runner_scheduling_failure"


class RateLimited(GatewayError):
    """Over a per-user limit; ``retry_after`` whole seconds until a retry may pass."""

    status_code = 429
    error_type = "rate_limited"

    def __init__(self, retry_after: int) -> None:
        super().__init__("Rate limit exceeded", headers={"retry-after": str(retry_after)})
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        return {**super().body(), "retry_after": self.retry_after}


class ValidationFailed(GatewayError):
    status_code = 422
    error_type = None

    def body(self) -> dict[str, Any]:
        errors = [
            {
                "field": ".".join(str(p) for p in e.get("loc", [])[1:]) or "body",
                "message": e.get("msg", ""),
            }
            for e in self.detail
        ]
        return {"detail": self.detail, "errors": errors}


def error_response(exc: OpenfalError, request_id: str | None = None) -> Response:
    headers = dict(exc.headers)
    if exc.error_type:
        headers["x-fal-error-type"] = exc.error_type
    if request_id:
        headers["x-fal-request-id"] = request_id
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=headers)


async def handle_openfal_error(request: Request, exc: Exception) -> Response:
    """Every error of the tree: its status, ``error_type`` and body, in one place."""
    assert isinstance(exc, OpenfalError)
    if exc.status_code >= 500 and not isinstance(exc, GatewayError):
        return await handle_unexpected(request, exc)
    return error_response(exc)


async def handle_unexpected(request: Request, exc: Exception) -> Response:
    from openfal.gateway.ids import new_request_id  # ids imports this module

    # the route's id, else a fresh one (the edge makes one only when a response lacks it)
    request_id = request.scope.get("openfal.request_id") or new_request_id()
    log.exception("unhandled error on %s %s (%s)", request.method, request.url.path, request_id)
    return JSONResponse(
        {"detail": "Internal server error", "request_id": request_id},
        status_code=500,
        headers={"x-fal-error-type": "internal_error", "x-fal-request-id": request_id},
    )


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 in our JSON shape."""
    from starlette.exceptions import HTTPException

    assert isinstance(exc, HTTPException)
    detail = f"Path {request.url.path} not found" if exc.status_code == 404 else exc.detail
    return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)
