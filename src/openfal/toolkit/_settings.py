"""Where this process stores files and which URLs it may fetch: the runner's file context.

The worker starts every runner with these environment variables (docs/runner-protocol.md):

======================== ==============================================================
``OPENFAL_STORAGE_URL``  the platform's storage (``file:///dir`` or ``s3://bucket``),
                         written directly by the runner
``OPENFAL_PUBLIC_URL``   the base URL clients reach the gateway on; stored files are
                         ``<public url>/files/<key>``
``OPENFAL_FILE_RETENTION`` seconds a stored output lives (unless the request's
                         ``X-Fal-Object-Lifecycle-Preference`` says otherwise)
``OPENFAL_UPLOAD_URL``   without a shared storage: a gateway's ``/rest/storage/upload``
                         that takes the runner's files (``OPENFAL_UPLOAD_KEY``: its key)
======================== ==============================================================

and the operator may set, for the gateway and runners alike:

=========================== ===========================================================
``OPENFAL_DOWNLOAD_ALLOW``  comma-separated hosts, addresses or networks that URL inputs
                            may reach although they are private (``10.0.0.0/8,models.lan``)
``OPENFAL_MAX_DOWNLOAD_SIZE`` bytes one URL input may have (default 1 GiB)
``OPENFAL_DOWNLOAD_DIR``    where ``download_file`` puts files (default: the temp dir)
=========================== ===========================================================

``configure(...)`` overrides any of them in this process (``openfal serve`` and tests).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

__all__ = ["ToolkitSettings", "configure", "settings"]

ENV_STORAGE_URL = "OPENFAL_STORAGE_URL"
ENV_PUBLIC_URL = "OPENFAL_PUBLIC_URL"
ENV_FILE_RETENTION = "OPENFAL_FILE_RETENTION"
ENV_UPLOAD_URL = "OPENFAL_UPLOAD_URL"
ENV_UPLOAD_KEY = "OPENFAL_UPLOAD_KEY"
ENV_DOWNLOAD_ALLOW = "OPENFAL_DOWNLOAD_ALLOW"
ENV_MAX_DOWNLOAD_SIZE = "OPENFAL_MAX_DOWNLOAD_SIZE"
ENV_DOWNLOAD_DIR = "OPENFAL_DOWNLOAD_DIR"

DEFAULT_MAX_DOWNLOAD_SIZE = 1024**3


@dataclass(frozen=True)
class ToolkitSettings:
    """The file context of this process; see the module docstring for each field's source."""

    storage_url: str | None = None
    public_url: str | None = None
    file_retention: float | None = None  # seconds; None: files do not expire
    upload_url: str | None = None
    upload_key: str | None = None
    download_allow: tuple[str, ...] = ()
    max_download_size: int = DEFAULT_MAX_DOWNLOAD_SIZE
    download_dir: Path = Path(tempfile.gettempdir()) / "openfal-downloads"

    @classmethod
    def from_env(cls) -> ToolkitSettings:
        env = os.environ
        retention = env.get(ENV_FILE_RETENTION)
        size = env.get(ENV_MAX_DOWNLOAD_SIZE)
        directory = env.get(ENV_DOWNLOAD_DIR)
        return cls(
            storage_url=env.get(ENV_STORAGE_URL) or None,
            public_url=(env.get(ENV_PUBLIC_URL) or "").rstrip("/") or None,
            file_retention=float(retention) if retention else None,
            upload_url=env.get(ENV_UPLOAD_URL) or None,
            upload_key=env.get(ENV_UPLOAD_KEY) or None,
            download_allow=_split(env.get(ENV_DOWNLOAD_ALLOW, "")),
            max_download_size=int(size) if size else DEFAULT_MAX_DOWNLOAD_SIZE,
            download_dir=Path(directory) if directory else cls.download_dir,
        )

    def as_env(self) -> dict[str, str]:
        """The environment that gives a child process (a runner) these settings."""
        env = {
            ENV_STORAGE_URL: self.storage_url,
            ENV_PUBLIC_URL: self.public_url,
            ENV_FILE_RETENTION: None if self.file_retention is None else repr(self.file_retention),
            ENV_UPLOAD_URL: self.upload_url,
            ENV_UPLOAD_KEY: self.upload_key,
            ENV_DOWNLOAD_ALLOW: ",".join(self.download_allow) or None,
            ENV_MAX_DOWNLOAD_SIZE: str(self.max_download_size),
            ENV_DOWNLOAD_DIR: str(self.download_dir),
        }
        return {k: v for k, v in env.items() if v is not None}


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


_overrides: dict[str, Any] = {}


def settings() -> ToolkitSettings:
    """The current settings: the environment, then what ``configure`` set."""
    return replace(ToolkitSettings.from_env(), **_overrides)


def configure(**overrides: Any) -> ToolkitSettings:
    """Override settings in this process (``None`` values drop an override); returns the result.

    ``configure()`` with no arguments clears every override.
    """
    names = {f.name for f in fields(ToolkitSettings)}
    unknown = set(overrides) - names
    if unknown:
        raise TypeError(f"unknown toolkit settings: {', '.join(sorted(unknown))}")
    if not overrides:
        _overrides.clear()
    for name, value in overrides.items():
        if value is None:
            _overrides.pop(name, None)
        else:
            if name == "public_url":
                value = str(value).rstrip("/")
            if name == "download_allow" and isinstance(value, str):
                value = _split(value)
            _overrides[name] = tuple(value) if name == "download_allow" else value
    return settings()
