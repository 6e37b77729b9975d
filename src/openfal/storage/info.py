"""What the storage knows of a file besides its bytes."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FileInfo"]


@dataclass(frozen=True)
class FileInfo:
    key: str
    size: int
    content_type: str
    file_name: str
    etag: str  # opaque, without quotes; md5 hex (``<md5 of md5s>-N`` after a multipart upload)
    created_at: float
    expires_at: float | None = None

    def is_expired(self, now: float) -> bool:
        return self.expires_at is not None and self.expires_at <= now
