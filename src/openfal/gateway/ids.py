"""Endpoint ids in URL paths (PROTOCOL.md §1): ``[ns/]owner/alias[/path]``."""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass

from openfal.gateway.errors import BadRequest, NotFound

NAMESPACES = frozenset({"workflows", "comfy"})
_LEGACY = re.compile(r"^([0-9]+)-([a-zA-Z0-9-]+)$")
# What a request id may look like (ours are UUIDs). Anything else names no request, and is
# never echoed: it could hold control or non-ASCII characters that no header may carry.
_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


@dataclass(frozen=True)
class EndpointRef:
    app_id: str  # "[ns/]owner/alias"
    path: str  # endpoint path without slashes around it, "" for the root


@dataclass(frozen=True)
class RequestRef:
    app_id: str
    request_id: str
    action: str  # "result" | "status" | "status/stream" | "cancel"


def _app_len(segs: list[str]) -> int:
    return 3 if segs and segs[0] in NAMESPACES else 2


def parse_endpoint(path: str) -> EndpointRef:
    """The endpoint a URL path names; raises 400 when it names no app."""
    # every call names one of a few endpoints: remember the short paths (bounded memory)
    return _parse_cached(path) if len(path) <= _CACHED_PATH else _parse_endpoint(path)


_CACHED_PATH = 256


@functools.lru_cache(maxsize=1024)
def _parse_cached(path: str) -> EndpointRef:
    return _parse_endpoint(path)


def _parse_endpoint(path: str) -> EndpointRef:
    segs = [s for s in path.strip("/").split("/") if s]
    if segs and (m := _LEGACY.match(segs[0])):
        segs = [m.group(1), m.group(2), *segs[1:]]
    n = _app_len(segs)
    if len(segs) < n:
        raise BadRequest(
            f"Invalid app id {path.strip('/')!r}: must be in the format <appOwner>/<appId>"
        )
    return EndpointRef("/".join(segs[:n]), "/".join(segs[n:]))


def parse_request_path(path: str) -> RequestRef | None:
    """``[ns/]owner/alias/requests/<id>[/status[/stream]|/cancel]``, or None."""
    segs = [s for s in path.strip("/").split("/") if s]
    n = _app_len(segs)
    if len(segs) < n + 2 or segs[n] != "requests":
        return None
    action = "/".join(segs[n + 2 :]) or "result"
    if action not in ("result", "status", "status/stream", "cancel"):
        return None
    if not is_request_id(segs[n + 1]):
        raise NotFound("Request not found: not a valid request id")
    return RequestRef("/".join(segs[:n]), segs[n + 1], action)


def is_request_id(text: str) -> bool:
    """Whether ``text`` has the shape of a request id (letters, digits, ``.``, ``_``, ``-``)."""
    return _REQUEST_ID.fullmatch(text) is not None


class _Entropy:
    """``os.urandom`` read 4 KiB at a time: one system call per 256 ids, not one each.
    A forked child starts with a fresh buffer, never its parent's."""

    def __init__(self) -> None:
        self.buf = b""
        self.at = 0
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self.buf, self.at = b"", 0

    def take16(self) -> bytearray:
        if self.at + 16 > len(self.buf):
            self.buf, self.at = os.urandom(4096), 0
        raw = bytearray(self.buf[self.at : self.at + 16])
        self.at += 16
        return raw


_entropy = _Entropy()


def new_request_id() -> str:
    """A random UUID (version 4) as text, like ``str(uuid.uuid4())`` at a third the cost."""
    raw = _entropy.take16()
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
