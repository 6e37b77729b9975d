"""Endpoint ids in URL paths (PROTOCOL.md §1): ``[ns/]owner/alias[/path]``."""

from __future__ import annotations

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


def new_request_id() -> str:
    """A random UUID (version 4) as text, like ``str(uuid.uuid4())`` at a third the cost."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
