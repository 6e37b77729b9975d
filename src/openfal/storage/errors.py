"""What the storage layer raises on purpose; each error knows its HTTP answer, so the
gateway maps them with the rest of the tree (:mod:`openfal.errors`)."""

from __future__ import annotations

from openfal.errors import OpenfalError
from openfal.filekeys import InvalidKey

__all__ = [
    "FileNotFound",
    "InvalidKey",
    "InvalidRange",
    "MultipartError",
    "StorageError",
    "UploadTooLarge",
]


class StorageError(OpenfalError):
    """Root of every error the storage layer raises on purpose."""


class FileNotFound(StorageError):
    """No file under this key (or it expired and was swept)."""

    status_code = 404
    error_type = None
    detail = "File not found"

    def __init__(self, key: str) -> None:
        super().__init__(f"no file under key {key!r}")
        self.key = key


class InvalidRange(StorageError, ValueError):
    """A byte range that does not overlap the file (HTTP 416)."""

    status_code = 416
    error_type = "range_not_satisfiable"


class UploadTooLarge(StorageError):
    """The upload is larger than the backend's ``max_size`` (HTTP 413)."""

    status_code = 413
    error_type = "payload_too_large"

    def __init__(self, limit: int, size: int | None = None) -> None:
        self.limit = limit
        self.size = size
        got = f" (got at least {size} bytes)" if size is not None else ""
        super().__init__(f"upload exceeds the maximum size of {limit} bytes{got}")


class MultipartError(StorageError):
    """Unknown upload id, or parts that do not fit together (missing, bad etag, too small)."""

    status_code = 400
    error_type = "bad_request"
