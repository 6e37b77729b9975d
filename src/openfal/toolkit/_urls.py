"""URL inputs: what a file URL may be, checked when a request is submitted.

``FileUrl`` / ``ImageUrl`` (and strings given for ``File`` fields) accept ``http``,
``https`` and ``data`` URLs and refuse, before anything is queued, hosts written as
private, loopback, link-local or metadata addresses (``http://169.254.169.254/...``),
unless the operator allow-lists them (``OPENFAL_DOWNLOAD_ALLOW``). Host *names* are
checked when the URL is downloaded, against the addresses they resolve to then.
This platform's own file URLs (``<public url>/files/<key>``) are always accepted: they
are read from storage, not over the network.

A validated URL is an ``InputUrl``: a ``str`` that remembers its field, so that a
download refused later is a 422 naming that field.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Annotated
from urllib.parse import SplitResult, unquote, urlsplit

from pydantic import AfterValidator, ValidationInfo

from openfal.filekeys import InvalidKey, validate_key
from openfal.toolkit._settings import ToolkitSettings, settings
from openfal.urlguard import UrlGuard, UrlRefused

__all__ = [
    "OWN_FILES",
    "FileUrl",
    "ImageUrl",
    "InputUrl",
    "check_url",
    "note_own_file",
    "own_file_key",
]

# Key of the validation context under which validators list ``(field, storage key)`` of
# every file of this platform an input names: the gateway checks the submitter may read
# each one (another owner's private file is a 422 naming the field).
OWN_FILES = "openfal_own_files"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_SCHEMES = ("http", "https", "data")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_NUMERIC_HOST = re.compile(r"[0-9a-fA-FxX.]*[0-9][0-9a-fA-FxX.]*")
_FILE_PREFIXES = ("/files/", "/cdn/files/")


class InputUrl(str):
    """A URL input that was validated, with the name of the field it came from."""

    field: str | None

    def __new__(cls, value: str, field: str | None = None) -> InputUrl:
        url = super().__new__(cls, value)
        url.field = field
        return url


def field_of(url: str) -> str | None:
    """The input field ``url`` came from, when it is an ``InputUrl``."""
    return getattr(url, "field", None)


def _split(url: str) -> SplitResult | None:
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return None
    return parts


def _port(parts: SplitResult) -> int | None:
    return parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())


def _is_loopback(host: str) -> bool:
    if host.lower().rstrip(".") == "localhost":
        return True
    address = literal_address(host)
    return address is not None and address.is_loopback


def own_file_key(url: str, s: ToolkitSettings | None = None) -> str | None:
    """The storage key of ``url`` if it is one of this platform's file URLs, else None.

    Own URLs are ``<public url>/files/<key>`` (or ``/cdn/files/<key>``), also when written
    with another loopback name for a loopback public URL (``localhost`` for ``127.0.0.1``).
    """
    s = s or settings()
    if not s.public_url:
        return None
    parts, base = _split(url), _split(s.public_url)
    if parts is None or base is None or not parts.hostname or not base.hostname:
        return None
    if parts.scheme.lower() != base.scheme.lower() or _port(parts) != _port(base):
        return None
    same_host = parts.hostname.lower() == base.hostname.lower()
    if not same_host and not (_is_loopback(parts.hostname) and _is_loopback(base.hostname)):
        return None
    root = base.path.rstrip("/")
    for prefix in _FILE_PREFIXES:
        if parts.path.startswith(root + prefix):
            try:
                return validate_key(unquote(parts.path[len(root + prefix) :]))
            except InvalidKey:
                return None
    return None


def literal_address(host: str) -> IPAddress | None:
    """The address a host written as an IP (also ``2130706433`` or ``0x7f.1``) stands for."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        pass
    if _NUMERIC_HOST.fullmatch(host):
        try:  # the forms inet_aton (and so the resolver) reads as IPv4
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def _refusal(address: IPAddress, s: ToolkitSettings) -> str | None:
    host = f"[{address}]" if address.version == 6 else str(address)
    try:
        UrlGuard(s.download_allow).check(f"http://{host}/")
    except UrlRefused as e:
        return e.reason
    return None


def refused(reason: str) -> str:
    return f"URL refused: {reason} (an operator may allow it with OPENFAL_DOWNLOAD_ALLOW)"


def check_url(url: str, s: ToolkitSettings | None = None) -> str | None:
    """Why ``url`` is not an acceptable file URL input, or None if it is (no DNS lookups)."""
    s = s or settings()
    parts = _split(url)
    if parts is None:
        return "not a valid URL"
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        return f"URL scheme {scheme or 'none'!r} is not allowed: use http, https or data"
    if scheme == "data":
        return None if "," in url else "not a valid data URI (no ',')"
    if not parts.hostname:
        return "URL has no host"
    if own_file_key(url, s) is not None:
        return None
    address = literal_address(parts.hostname)
    if address is None:
        return None
    reason = _refusal(address, s)
    return None if reason is None else refused(reason)


def validate_url(value: str, info: ValidationInfo) -> InputUrl:
    problem = check_url(value)
    if problem is not None:
        raise ValueError(problem)
    note_own_file(value, info)
    return InputUrl(value.strip(), info.field_name)


def note_own_file(url: str, info: ValidationInfo) -> None:
    """List ``url`` under ``OWN_FILES`` in the validation context if it is one of our files."""
    listed = info.context.get(OWN_FILES) if isinstance(info.context, dict) else None
    if isinstance(listed, list) and (key := own_file_key(url.strip())) is not None:
        listed.append((info.field_name or "", key))


FileUrl = Annotated[str, AfterValidator(validate_url)]
"""A URL input (http, https or data) of a file, checked at submit (see the module doc)."""

ImageUrl = Annotated[str, AfterValidator(validate_url)]
"""A URL input of an image; the same checks as ``FileUrl``."""
