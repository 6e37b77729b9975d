"""Where ``File.from_*`` put bytes, and the URL clients read them back from.

Repositories by name (``repository=`` of ``File.from_bytes`` and friends):

- ``"in_memory"``: no storage; the URL is a ``data:`` URI (how apps implement ``sync_mode``).
- ``None`` or ``"default"`` (and fal's names ``"fal"``, ``"fal_v3"``, ``"cdn"``, ...): the
  platform's storage, chosen from this process's settings by ``default_repository()``:
  inside a runner (which hands the toolkit its storage with ``use_storage``), the storage
  named by ``OPENFAL_STORAGE_URL``, written directly and served as
  ``<OPENFAL_PUBLIC_URL>/files/<key>``. Outside one (plain Python, ``openfal run`` without
  those variables) files become ``data:`` URIs, so code that makes files still runs.

  Failing that, a runner started with ``OPENFAL_UPLOAD_URL`` uploads through a gateway
  (``openfal worker --gateway-url`` on a host that does not share the storage).

Other transports are a ``FileRepository`` subclass plus a branch in
``default_repository()``, or a name added with ``register_repository``.
"""

from __future__ import annotations

import abc
import base64
import json
import mimetypes
import os
import uuid
from collections.abc import Callable
from pathlib import Path

from openfal.clock import now as clock_now
from openfal.filekeys import new_key
from openfal.sdk import current_request
from openfal.toolkit._loop import has_storage, run_sync, storage_for
from openfal.toolkit._settings import settings

__all__ = [
    "FileRepository",
    "InMemoryRepository",
    "StorageRepository",
    "default_repository",
    "get_repository",
    "register_repository",
]

LIFECYCLE_HEADERS = ("x-fal-object-lifecycle-preference", "x-fal-object-lifecycle")
PLATFORM_NAMES = frozenset({"default", "fal", "fal_v2", "fal_v3", "cdn"})


class FileRepository(abc.ABC):
    """Stores file bytes and answers the URL a client can GET them from."""

    @abc.abstractmethod
    def save(self, data: bytes, content_type: str, file_name: str) -> str:
        """Store ``data``; return its URL."""

    def save_file(self, path: Path, content_type: str, file_name: str) -> str:
        """Store the file at ``path``; return its URL. Backends may stream it."""
        return self.save(path.read_bytes(), content_type, file_name)


class InMemoryRepository(FileRepository):
    """Nothing is stored: the URL is ``data:<content type>;base64,<bytes>``."""

    def save(self, data: bytes, content_type: str, file_name: str) -> str:
        return f"data:{content_type};base64,{base64.b64encode(data).decode('ascii')}"


class StorageRepository(FileRepository):
    """Writes to the platform's storage (``file://`` or ``s3://``) and answers
    ``<public_url>/files/<key>``. Files expire after the request's lifecycle preference
    (``expiration_duration_seconds``), else after ``retention`` seconds (None: never)."""

    def __init__(self, storage_url: str, public_url: str, retention: float | None = None) -> None:
        self.storage_url = storage_url
        self.public_url = public_url.rstrip("/")
        self.retention = retention

    def __repr__(self) -> str:
        return f"StorageRepository({self.storage_url!r}, {self.public_url!r})"

    def save(self, data: bytes, content_type: str, file_name: str) -> str:
        return self._put(data, content_type, file_name)

    def save_file(self, path: Path, content_type: str, file_name: str) -> str:
        return self._put(os.fspath(path), content_type, file_name)

    def _put(self, data: bytes | str, content_type: str, file_name: str) -> str:
        key = new_key(file_name)
        seconds = request_retention(self.retention)
        expires_at = None if seconds is None else clock_now() + seconds
        storage = storage_for(self.storage_url)
        run_sync(
            storage.put(
                key, data, content_type=content_type, file_name=file_name, expires_at=expires_at
            )
        )
        return f"{self.public_url}/files/{key}"


def request_retention(default: float | None) -> float | None:
    """Seconds a file made now should live: the current request's lifecycle header, if any."""
    request = current_request()
    if request is None:
        return default
    headers = {k.lower(): v for k, v in request.headers.items()}
    for name in LIFECYCLE_HEADERS:
        try:
            preference = json.loads(headers.get(name) or "null")
            seconds = preference.get("expiration_duration_seconds")
        except (ValueError, AttributeError):
            continue
        if isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds > 0:
            return float(seconds)
    return default


def default_repository() -> FileRepository:
    """The platform's storage when this process has one configured, else ``data:`` URIs."""
    s = settings()
    if s.storage_url and s.public_url and has_storage():
        return StorageRepository(s.storage_url, s.public_url, s.file_retention)
    from openfal.toolkit._gateway import gateway_repository  # a worker without shared storage

    return gateway_repository(s.file_retention) or InMemoryRepository()


_REPOSITORIES: dict[str, Callable[[], FileRepository]] = {"in_memory": InMemoryRepository}


def register_repository(name: str, factory: Callable[[], FileRepository]) -> None:
    """Make ``repository=name`` build its repository with ``factory``."""
    _REPOSITORIES[name] = factory


def get_repository(repository: FileRepository | str | None) -> FileRepository:
    """A repository object from a name or an object (returned as is); None is the default."""
    if isinstance(repository, FileRepository):
        return repository
    if repository is None:
        return default_repository()
    if repository in _REPOSITORIES:
        return _REPOSITORIES[repository]()
    if repository in PLATFORM_NAMES:
        return default_repository()
    known = sorted(PLATFORM_NAMES | set(_REPOSITORIES))
    raise ValueError(f"unknown file repository {repository!r}: use one of {', '.join(known)}")


def default_file_name(content_type: str) -> str:
    """A fresh name with the extension of ``content_type`` (``<hex>.png``)."""
    extension = mimetypes.guess_extension(content_type.split(";")[0].strip()) or ".bin"
    return uuid.uuid4().hex + extension
