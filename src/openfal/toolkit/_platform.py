"""What the toolkit needs of the platform's file storage (``openfal.storage.Storage`` fits).

Typed structurally, so the toolkit imports no storage backend: the runner hands it one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["FileStore", "StorageOpener", "StoredFile"]


class StoredFile(Protocol):
    @property
    def size(self) -> int: ...

    def is_expired(self, now: float) -> bool: ...


class FileStore(Protocol):
    async def open(self) -> None: ...

    async def put(
        self,
        key: str,
        data: Any,
        *,
        content_type: str = ...,
        file_name: str | None = ...,
        expires_at: float | None = ...,
    ) -> Any: ...

    async def stat(self, key: str) -> StoredFile | None: ...

    async def get(self, key: str) -> Any: ...


StorageOpener = Callable[[str], FileStore]
