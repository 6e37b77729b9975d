"""Read URL inputs: ``data:`` URIs, this platform's own files, and remote http(s) URLs.

Remote URLs go through the SSRF guard of :mod:`openfal.webhooks` (every address the host
resolves to must be public unless allow-listed) and the connection is made to the vetted
address, so a DNS answer that changes in between cannot smuggle in a private one. Each
redirect is vetted the same way. Own file URLs (``<public url>/files/<key>``) are read
straight from storage. Every source is capped at ``filesize_limit`` bytes (default
``OPENFAL_MAX_DOWNLOAD_SIZE``). Failures raise ``DownloadError``: a 422 naming the field.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import io
import mimetypes
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, unquote_to_bytes, urlsplit

import httpx

from openfal.clock import now as clock_now
from openfal.filekeys import safe_file_name
from openfal.toolkit._errors import DownloadError
from openfal.toolkit._loop import has_storage, run_sync, storage_for
from openfal.toolkit._settings import ToolkitSettings, settings
from openfal.toolkit._urls import check_url, field_of, own_file_key, refused
from openfal.urlguard import UrlGuard, UrlRefused, UrlTarget, UrlUnresolvable

if TYPE_CHECKING:
    from PIL import Image as PILImage


__all__ = ["download_bytes", "download_file", "load_image"]

MAX_REDIRECTS = 5
TIMEOUT = httpx.Timeout(60.0, connect=15.0)
Write = Callable[[bytes], object]


class _Fetch:
    """One read of ``url`` into ``write``, with the limit and the field for errors."""

    def __init__(
        self, url: str, limit: int | None, headers: Mapping[str, str] | None, s: ToolkitSettings
    ) -> None:
        self.url = url
        self.field = field_of(url)
        self.limit = s.max_download_size if limit is None else limit
        self.headers = dict(headers or {})
        self.settings = s

    def fail(self, message: str, type: str = "download_failed") -> DownloadError:
        return DownloadError(self.field, message, type)

    def too_large(self, size: int) -> DownloadError:
        return self.fail(
            f"{_short(self.url)} is larger than the limit of {self.limit} bytes (at least {size})",
            "file_too_large",
        )

    def run(self, write: Write) -> None:
        problem = check_url(self.url, self.settings)
        if problem is not None:
            raise self.fail(problem, "url_refused")
        if self.url.strip().lower().startswith("data:"):
            write(self.data_uri())
            return
        self.remote(self.url.strip(), write)

    def data_uri(self) -> bytes:
        header, _, payload = self.url.strip()[len("data:") :].partition(",")
        if header.lower().endswith(";base64"):
            if len(payload) * 3 // 4 > self.limit + 2:
                raise self.too_large(len(payload) * 3 // 4)
            try:
                data = base64.b64decode(unquote(payload), validate=False)
            except (binascii.Error, ValueError) as e:
                raise self.fail(f"invalid base64 in data URI: {e}") from None
        else:
            data = unquote_to_bytes(payload)
        if len(data) > self.limit:
            raise self.too_large(len(data))
        return data

    def own(self, key: str, url: str, write: Write) -> bool:
        """Copy an own file from storage; False when this process has no storage."""
        if not self.settings.storage_url or not has_storage():
            return False
        storage = storage_for(self.settings.storage_url)
        info = run_sync(storage.stat(key))
        if info is None or info.is_expired(clock_now()):
            raise self.fail(f"{_short(url)} was not found (expired or deleted?)", "file_not_found")
        if info.size > self.limit:
            raise self.too_large(info.size)

        async def copy() -> None:
            async with await storage.get(key) as stream:
                async for chunk in stream:
                    write(chunk)

        run_sync(copy())
        return True

    def remote(self, url: str, write: Write) -> None:
        with httpx.Client(timeout=TIMEOUT) as client:
            for _ in range(MAX_REDIRECTS + 1):
                key = own_file_key(url, self.settings)
                if key is not None and self.own(key, url, write):
                    return
                location = self.get(client, self.vet(url), write)
                if location is None:
                    return
                url = location
        raise self.fail(f"{_short(self.url)}: more than {MAX_REDIRECTS} redirects")

    def vet(self, url: str) -> UrlTarget:
        try:
            return UrlGuard(self.settings.download_allow).check(url)
        except UrlUnresolvable as e:
            raise self.fail(e.reason) from None
        except UrlRefused as e:
            raise self.fail(refused(e.reason), "url_refused") from None

    def get(self, client: httpx.Client, target: UrlTarget, write: Write) -> str | None:
        """GET the vetted target into ``write``; the next URL when it redirects."""
        try:
            response = _get_pinned(client, target, self.headers)
        except httpx.HTTPError as e:
            raise self.fail(f"cannot download {_short(str(target.url))}: {e}") from None
        with contextlib.closing(response):
            if response.is_redirect and "location" in response.headers:
                return str(target.url.join(response.headers["location"]))
            if response.status_code != 200:
                raise self.fail(
                    f"{_short(str(target.url))} answered HTTP {response.status_code}",
                    "file_not_found" if response.status_code == 404 else "download_failed",
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > self.limit:
                raise self.too_large(int(declared))
            size = 0
            try:
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > self.limit:
                        raise self.too_large(size)
                    write(chunk)
            except httpx.HTTPError as e:
                raise self.fail(f"download of {_short(str(target.url))} failed: {e}") from None
        return None


def _get_pinned(
    client: httpx.Client, target: UrlTarget, headers: Mapping[str, str]
) -> httpx.Response:
    """GET from the vetted addresses in turn, keeping the URL's Host and TLS name."""
    pinned = {**headers, "Host": target.url.netloc.decode("ascii"), "Connection": "close"}
    extensions: dict[str, Any] = {}
    if target.url.scheme == "https":
        extensions["sni_hostname"] = target.url.raw_host.decode("ascii")
    last_error: httpx.ConnectError | None = None
    for address in target.addresses:
        request = client.build_request(
            "GET", target.url.copy_with(host=str(address)), headers=pinned, extensions=extensions
        )
        try:
            return client.send(request, stream=True, follow_redirects=False)
        except httpx.ConnectError as e:
            last_error = e
    assert last_error is not None  # a vetted target has at least one address
    raise last_error


def _short(url: str, limit: int = 120) -> str:
    return url if len(url) <= limit else url[: limit - 3] + "..."


def _file_name(url: str) -> str:
    url = url.strip()
    if url.lower().startswith("data:"):
        mime = url[len("data:") :].split(",", 1)[0].split(";", 1)[0] or "text/plain"
        return "file" + (mimetypes.guess_extension(mime) or ".bin")
    path = urlsplit(url).path
    return safe_file_name(unquote(path.rsplit("/", 1)[-1]), default="download")


def fetch_to_path(
    url: str,
    path: Path,
    *,
    request_headers: Mapping[str, str] | None = None,
    filesize_limit: int | None = None,
) -> Path:
    """Download ``url`` to ``path`` atomically (a temp file in the same folder, renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".download-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            _Fetch(url, filesize_limit, request_headers, settings()).run(out.write)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def download_file(
    url: str,
    target_dir: str | os.PathLike[str] | None = None,
    *,
    force: bool = False,
    request_headers: Mapping[str, str] | None = None,
    filesize_limit: int | None = None,
) -> Path:
    """Download ``url`` (http, https, data, or an own file) and return the local path.

    The file keeps the URL's file name, in ``target_dir`` or else in a folder per URL under
    ``OPENFAL_DOWNLOAD_DIR``. An existing file there is reused unless ``force``.
    """
    if target_dir is None:
        digest = hashlib.sha256(url.strip().encode()).hexdigest()[:24]
        directory = settings().download_dir / digest
    else:
        directory = Path(target_dir)
    path = directory / _file_name(url)
    if path.exists() and not force:
        return path
    return fetch_to_path(url, path, request_headers=request_headers, filesize_limit=filesize_limit)


def download_bytes(
    url: str,
    *,
    request_headers: Mapping[str, str] | None = None,
    filesize_limit: int | None = None,
) -> bytes:
    """The bytes behind ``url`` (http, https, data, or an own file), in memory."""
    buffer = io.BytesIO()
    _Fetch(url, filesize_limit, request_headers, settings()).run(buffer.write)
    return buffer.getvalue()


def load_image(
    url: str, mode: str | None = "RGB", *, filesize_limit: int | None = None
) -> PILImage.Image:
    """The image behind ``url`` as a PIL image (EXIF orientation applied, ``mode`` if given)."""
    data = download_bytes(url, filesize_limit=filesize_limit)
    return decode_image(data, mode, field_of(url), _short(url))


def decode_image(
    data: bytes, mode: str | None, field: str | None = None, what: str = "the input"
) -> PILImage.Image:
    """Encoded image bytes as a PIL image; ``DownloadError`` (``invalid_image``) if they are not."""
    try:
        from PIL import Image as PILImage
        from PIL import ImageOps, UnidentifiedImageError
    except ImportError as e:  # pragma: no cover - Pillow is a test dependency
        raise RuntimeError("reading images needs Pillow: pip install pillow") from e
    try:
        image = PILImage.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError) as e:
        raise DownloadError(
            field, f"{what} is not a readable image: {e}", "invalid_image"
        ) from None
    result: PILImage.Image = ImageOps.exif_transpose(image) or image
    return result.convert(mode) if mode and result.mode != mode else result
