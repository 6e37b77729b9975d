"""What :class:`SyncClient` and :class:`AsyncClient` share: settings, the server they talk
to, and the upload state. They differ only in how they carry flows out."""

from __future__ import annotations

import os

import httpx

from openfal.client._server import Server
from openfal.client._upload import (
    MULTIPART_CHUNK_SIZE,
    MULTIPART_CONCURRENCY,
    MULTIPART_THRESHOLD,
    CDNToken,
    UploadOptions,
)


class BaseClient:
    """``key`` (else ``FAL_KEY`` or ``FAL_KEY_ID``/``FAL_KEY_SECRET``; none for an open server)
    and ``base_url`` (else ``OPENFAL_URL``, else ``http://127.0.0.1:8000``) are read from the
    environment at each call when not given, so the module-level functions follow it.
    ``default_timeout`` bounds submit, status, result and cancel calls (``run`` and ``stream``
    wait as long as they take unless given ``timeout``). Uploads larger than
    ``multipart_threshold`` bytes go in ``multipart_chunk_size`` parts,
    ``multipart_concurrency`` at a time. ``transport`` replaces httpx's (a mock in tests)."""

    def __init__(
        self,
        key: str | None = None,
        default_timeout: float = 120.0,
        *,
        base_url: str | None = None,
        multipart_threshold: int = MULTIPART_THRESHOLD,
        multipart_chunk_size: int = MULTIPART_CHUNK_SIZE,
        multipart_concurrency: int = MULTIPART_CONCURRENCY,
        transport: httpx.BaseTransport | httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if multipart_chunk_size < 1 or multipart_concurrency < 1:
            raise ValueError("multipart_chunk_size and multipart_concurrency must be at least 1")
        self.key = key
        self.default_timeout = default_timeout
        self.base_url = base_url
        self._upload_options = UploadOptions(
            multipart_threshold, multipart_chunk_size, multipart_concurrency
        )
        self._cdn_token = CDNToken()
        self._transport = transport
        if base_url is not None:
            Server.resolve(base_url, key)  # a bad URL fails here, not at the first call

    def _server(self) -> Server:
        return Server.resolve(self.base_url, self.key, self.default_timeout, os.environ)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._server().base_url!r})"
