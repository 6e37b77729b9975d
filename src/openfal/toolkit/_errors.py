"""Errors of URL inputs, answered as 422s that name the input field."""

from __future__ import annotations

from typing import Any

from openfal.sdk import FieldException

__all__ = ["DownloadError"]


class DownloadError(FieldException):
    """A URL input that cannot be read: refused (SSRF guard), too large, or failing.

    ``field`` is the input field the URL came from (known when the URL was validated by a
    ``FileUrl``/``ImageUrl``/``File`` field), else None. ``type`` says which problem:
    ``url_refused``, ``file_too_large``, ``file_not_found``, ``download_failed`` or
    ``invalid_image``.
    """

    def __init__(self, field: str | None, message: str, type: str = "download_failed") -> None:
        super().__init__(field or "", message, status_code=422, type=type)
        self.field_name = field

    @property
    def detail(self) -> Any:
        loc = ["body", self.field_name] if self.field_name else ["body"]
        return [{"loc": loc, "msg": self.message, "type": self.type}]
