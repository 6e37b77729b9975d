"""File storage: uploaded inputs and generated outputs, on local disk or in S3.

``Storage.from_url("file:///var/lib/openfal/files")`` or ``Storage.from_url("s3://bucket/prefix")``;
see :mod:`openfal.storage.base` for the contract. ``S3Storage`` is imported lazily since it
needs the ``s3`` extra (boto3).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from openfal.filekeys import (
    new_key,
    safe_file_name,
    validate_key,
)
from openfal.storage.base import (
    FileInfo,
    Storage,
)
from openfal.storage.errors import (
    FileNotFound,
    InvalidKey,
    InvalidRange,
    MultipartError,
    StorageError,
    UploadTooLarge,
)
from openfal.storage.local import LocalStorage
from openfal.storage.spool import Data
from openfal.storage.streams import ByteStream

if TYPE_CHECKING:
    from openfal.storage.s3 import S3Storage

__all__ = [
    "ByteStream",
    "Data",
    "FileInfo",
    "FileNotFound",
    "InvalidKey",
    "InvalidRange",
    "LocalStorage",
    "MultipartError",
    "S3Storage",
    "Storage",
    "StorageError",
    "UploadTooLarge",
    "new_key",
    "safe_file_name",
    "validate_key",
]


def __getattr__(name: str) -> Any:
    if name == "S3Storage":
        try:
            from openfal.storage.s3 import S3Storage
        except ImportError as e:
            raise RuntimeError(
                "S3 storage needs the 's3' extra (boto3): pip install 'openfal[s3]'"
            ) from e
        return S3Storage
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
