"""Errors an app raises and the platform maps to HTTP answers.

The tree has one root so callers can catch everything openfal raises::

    OpenfalError
    ├── AppException            an endpoint failed; carries the HTTP status and detail
    │   └── FieldException      one input field is invalid (422, pydantic's detail shape)
    ├── RequestCancelled        the current request was cancelled (report_progress raises it)
    ├── AppDefinitionError      an App class cannot be served as written (also ValueError)
    └── AppLoadError            an app reference cannot be loaded (also ValueError)
"""

from __future__ import annotations

from typing import Any

from openfal.errors import OpenfalError

__all__ = [
    "AppDefinitionError",
    "AppException",
    "AppLoadError",
    "FieldException",
    "OpenfalError",
    "RequestCancelled",
]


class AppException(OpenfalError):
    """An endpoint error answered with `status_code` and `{"detail": message}`."""

    def __init__(self, message: str, status_code: int = 500) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code

    @property
    def detail(self) -> Any:
        """The value of `detail` in the JSON answer."""
        return self.message


class FieldException(AppException):
    """One input field is invalid; answered like a pydantic validation error."""

    def __init__(
        self,
        field: str,
        message: str,
        status_code: int = 422,
        type: str = "value_error",
    ) -> None:
        super().__init__(message, status_code)
        self.field = field
        self.type = type

    @property
    def detail(self) -> Any:
        return [{"loc": ["body", self.field], "msg": self.message, "type": self.type}]


class RequestCancelled(OpenfalError):
    """The current request was cancelled; raised so long loops stop at the next step."""

    def __init__(self, message: str = "Request was cancelled") -> None:
        super().__init__(message)


class AppDefinitionError(OpenfalError, ValueError):
    """An App class cannot be served as written (bad name, endpoint or signature)."""


class AppLoadError(OpenfalError, ValueError):
    """An app reference (`file.py::Class`, `module:Class`) cannot be resolved."""
