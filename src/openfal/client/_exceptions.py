"""Errors raised by :mod:`openfal.client` (the same names and fields as ``fal_client``)::

FalClientError
├── FalClientHTTPError         the server answered non-2xx: status_code, message, error_type
├── FalClientTimeoutError      client_timeout (or a client-side HTTP timeout) ran out;
│                              also a TimeoutError
├── FalClientConnectionError   the server could not be reached, retries included;
│                              also a ConnectionError
└── FalClientStreamError       a stream endpoint answered something other than events
"""

from __future__ import annotations

import json
from typing import Any

import httpx


class FalClientError(Exception):
    """The root of every error this client raises on purpose."""


class FalClientHTTPError(FalClientError):
    """A non-2xx answer.

    ``message`` is the body's ``detail`` when the body is a JSON object (a list of field errors
    for a 422), else the body text. ``error_type`` is the body's ``error_type``, else the
    ``x-fal-error-type`` header.
    """

    def __init__(
        self,
        message: Any,
        status_code: int,
        response_headers: dict[str, str],
        response: httpx.Response,
        error_type: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.response_headers = response_headers
        self.response = response
        self.error_type = error_type

    @classmethod
    def from_response(cls, response: httpx.Response) -> FalClientHTTPError:
        message: Any = response.text
        error_type: str | None = None
        try:
            body = json.loads(response.content) if response.content else None
        except ValueError:
            body = None
        if isinstance(body, dict):
            message = body.get("detail", response.text)
            raw_type = body.get("error_type")
            error_type = raw_type if isinstance(raw_type, str) else None
        if error_type is None:
            error_type = response.headers.get("x-fal-error-type")
        return cls(message, response.status_code, dict(response.headers), response, error_type)

    @property
    def request_id(self) -> str | None:
        return self.response_headers.get("x-fal-request-id")

    def __str__(self) -> str:
        return str(self.message)

    def __repr__(self) -> str:
        return f"FalClientHTTPError({self.status_code}, {self.message!r}, {self.error_type!r})"


class FalClientTimeoutError(FalClientError, TimeoutError):
    def __init__(self, timeout: float, request_id: str | None = None) -> None:
        super().__init__(timeout, request_id)
        self.timeout = timeout
        self.request_id = request_id

    def __str__(self) -> str:
        if self.request_id is None:
            return f"Request timed out after {self.timeout} seconds"
        return f"Request {self.request_id} timed out after {self.timeout} seconds"


class FalClientConnectionError(FalClientError, ConnectionError):
    def __init__(self, url: str, cause: Exception) -> None:
        super().__init__(f"Could not reach {url}: {type(cause).__name__}: {cause}")
        self.url = url


class FalClientStreamError(FalClientError):
    """A streaming endpoint answered 2xx without ``text/event-stream``, or sent bad JSON."""
