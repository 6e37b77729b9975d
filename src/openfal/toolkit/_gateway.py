"""Files through a gateway: for runners on a worker host that does not share the storage.

``openfal worker --gateway-url URL`` without ``--storage`` starts its runners with
``OPENFAL_UPLOAD_URL`` (the gateway's ``POST /rest/storage/upload``) and, when the
gateways require keys, ``OPENFAL_UPLOAD_KEY``. Files then travel over HTTP to a gateway,
which stores them and answers their public URL.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

import httpx

from openfal.errors import OpenfalError
from openfal.toolkit._loop import run_sync
from openfal.toolkit._repository import FileRepository, request_retention
from openfal.toolkit._settings import settings


class UploadFailed(OpenfalError, RuntimeError):
    """The gateway did not take the file."""


class GatewayRepository(FileRepository):
    """Uploads each file with one ``POST <upload_url>`` (the raw bytes), authenticated with
    ``Key <key>`` when a key is given. Files expire like the platform storage's: after the
    request's lifecycle preference, else ``retention`` seconds (None: the gateway's
    default)."""

    def __init__(self, upload_url: str, key: str | None = None, retention: float | None = None):
        self.upload_url = upload_url
        self.key = key
        self.retention = retention

    def __repr__(self) -> str:
        return f"GatewayRepository({self.upload_url!r})"

    def save(self, data: bytes, content_type: str, file_name: str) -> str:
        return run_sync(self._post(data, content_type, file_name))

    def save_file(self, path: Path, content_type: str, file_name: str) -> str:
        return run_sync(self._post(path, content_type, file_name))

    async def _post(self, data: bytes | Path, content_type: str, file_name: str) -> str:
        headers = {"content-type": content_type, "x-fal-file-name": file_name}
        if self.key:
            headers["authorization"] = f"Key {self.key}"
        seconds = request_retention(self.retention)
        if seconds is not None:
            headers["x-fal-object-lifecycle-preference"] = json.dumps(
                {"expiration_duration_seconds": int(seconds)}
            )
        async with httpx.AsyncClient(timeout=httpx.Timeout(300.0, connect=10.0)) as client:
            if isinstance(data, Path):
                with data.open("rb") as f:
                    r = await client.post(self.upload_url, content=_chunks(f), headers=headers)
            else:
                r = await client.post(self.upload_url, content=data, headers=headers)
        if r.status_code != 200:
            raise UploadFailed(
                f"upload to {self.upload_url} failed: {r.status_code} {r.text[:200]}"
            )
        url: str = r.json()["url"]
        return url


async def _chunks(f: BinaryIO, size: int = 1024 * 1024) -> AsyncIterator[bytes]:
    while chunk := f.read(size):
        yield chunk


def gateway_repository(retention: float | None) -> GatewayRepository | None:
    """The repository ``OPENFAL_UPLOAD_URL`` names, if set."""
    current = settings()
    if not current.upload_url:
        return None
    return GatewayRepository(current.upload_url, current.upload_key, retention)
