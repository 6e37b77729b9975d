"""File keys and names: the rules the storage, the gateway and the toolkit share.

A key is ``<uuid hex>/<safe file name>`` (:func:`new_key`); :func:`validate_key` refuses
anything that could escape a storage root or that a backend cannot store. A neutral
module: it imports nothing of openfal but the error root.
"""

from __future__ import annotations

import re
import unicodedata
import uuid

from openfal.errors import OpenfalError

__all__ = [
    "DEFAULT_FILE_NAME",
    "MAX_FILE_NAME_LENGTH",
    "MAX_KEY_LENGTH",
    "MAX_SEGMENT_LENGTH",
    "InvalidKey",
    "file_name_for",
    "new_key",
    "safe_file_name",
    "validate_key",
]

DEFAULT_FILE_NAME = "upload.bin"
MAX_KEY_LENGTH = 512  # bytes, UTF-8
MAX_SEGMENT_LENGTH = 200  # bytes, UTF-8 (file systems allow 255 per path component)
MAX_FILE_NAME_LENGTH = 100  # characters kept by safe_file_name()


class InvalidKey(OpenfalError, ValueError):
    """A key that could escape its root or that a backend cannot store."""

    status_code = 400
    error_type = "bad_request"

    @property
    def detail(self) -> str:
        return f"Invalid file key: {self}"


_SAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")


def safe_file_name(file_name: str | None, default: str = DEFAULT_FILE_NAME) -> str:
    """A file name that is safe in a key, a path and a URL.

    Basename only (both ``/`` and ``\\`` separate), accents folded to ASCII, anything outside
    ``[A-Za-z0-9._-]`` replaced by ``_``, no leading dot, at most
    :data:`MAX_FILE_NAME_LENGTH` characters (the extension is kept when truncating).
    """
    name = (file_name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    name = _SAFE_NAME_CHARS.sub("_", name).strip("._ ")
    if len(name) > MAX_FILE_NAME_LENGTH:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 16:
            name = stem[: MAX_FILE_NAME_LENGTH - len(ext) - 1].rstrip("._") + "." + ext
        else:
            name = name[:MAX_FILE_NAME_LENGTH].rstrip("._")
    return name or default


def new_key(file_name: str | None = None) -> str:
    """A fresh, unguessable key: ``<uuid4 hex>/<safe file name>``."""
    return f"{uuid.uuid4().hex}/{safe_file_name(file_name)}"


def validate_key(key: str) -> str:
    """Return ``key`` unchanged, or raise :class:`InvalidKey`.

    Rejected: non-strings, empty keys, absolute paths, backslashes, empty / ``.`` / ``..``
    segments (so also leading, trailing or doubled slashes), NUL and other control
    characters, keys over :data:`MAX_KEY_LENGTH` bytes or segments over
    :data:`MAX_SEGMENT_LENGTH` bytes.
    """
    if not isinstance(key, str):
        raise InvalidKey(f"key must be a string, not {type(key).__name__}")
    if not key:
        raise InvalidKey("key is empty")
    if key.startswith("/"):
        raise InvalidKey(f"key must be relative: {key!r}")
    if "\\" in key:
        raise InvalidKey(f"key must not contain backslashes: {key!r}")
    if _CONTROL_CHARS.search(key):
        raise InvalidKey(f"key must not contain control characters: {key!r}")
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidKey(f"key is not valid UTF-8: {key!r}") from None
    if len(encoded) > MAX_KEY_LENGTH:
        raise InvalidKey(f"key is longer than {MAX_KEY_LENGTH} bytes")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidKey(f"key has an empty, '.' or '..' segment: {key!r}")
        if len(segment.encode("utf-8")) > MAX_SEGMENT_LENGTH:
            raise InvalidKey(f"key segment is longer than {MAX_SEGMENT_LENGTH} bytes")
    return key


def file_name_for(key: str, file_name: str | None) -> str:
    """The file name to record: the given one (control characters dropped, at most 255
    characters), else the key's last segment."""
    name = _CONTROL_CHARS.sub("", file_name or "")[:255]
    return name or key.rsplit("/", 1)[-1]
