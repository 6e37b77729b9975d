"""Where requests go and what they carry: the base URL, the key, URLs and headers.

openfal serves fal's hosts on one port by path prefix (PROTOCOL.md, "openfal's surfaces"):
run at ``/``, queue at ``/queue/``, REST at ``/rest``, CDN uploads at ``/cdn``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import httpx

DEFAULT_URL = "http://127.0.0.1:8000"
CONNECT_TIMEOUT = 30.0
_NAMESPACES = ("workflows", "comfy")
_LEGACY_ID = re.compile(r"^([0-9]+)-([a-zA-Z0-9-]+)$")


def _version() -> str:
    try:
        return metadata.version("openfal")
    except metadata.PackageNotFoundError:
        return "0"


USER_AGENT = f"openfal-client/{_version()} (python)"


def key_from_env(env: Mapping[str, str]) -> str | None:
    """``FAL_KEY``, else ``FAL_KEY_ID:FAL_KEY_SECRET``, else None (an open server)."""
    if env.get("FAL_KEY"):
        return env["FAL_KEY"]
    key_id, secret = env.get("FAL_KEY_ID"), env.get("FAL_KEY_SECRET")
    if key_id and secret:
        return f"{key_id}:{secret}"
    return None


@dataclass(frozen=True)
class AppId:
    owner: str
    alias: str
    path: str | None
    namespace: str | None

    @classmethod
    def parse(cls, endpoint_id: str) -> AppId:
        """``[ns/]owner/alias[/path]``, or the legacy ``<digits>-<alias>`` (PROTOCOL.md §1)."""
        if "/" not in endpoint_id:
            match = _LEGACY_ID.match(endpoint_id)
            if match is None:
                raise ValueError(
                    f"Invalid app id: {endpoint_id!r}. Must be in the format <appOwner>/<appId>"
                )
            endpoint_id = f"{match[1]}/{match[2]}"
        parts = endpoint_id.split("/")
        ns = parts[0] if parts[0] in _NAMESPACES else None
        rest = parts[1:] if ns else parts
        if len(rest) < 2 or not rest[0] or not rest[1]:
            raise ValueError(f"Invalid app id: {endpoint_id!r}. Must be <appOwner>/<appId>")
        return cls(rest[0], rest[1], "/".join(rest[2:]) or None, ns)

    @property
    def app(self) -> str:
        """``[ns/]owner/alias`` (no endpoint path)."""
        return (
            f"{self.namespace}/{self.owner}/{self.alias}"
            if self.namespace
            else (f"{self.owner}/{self.alias}")
        )


def join(url: str, path: str) -> str:
    return url + "/" + path.lstrip("/") if path else url


def timeouts(seconds: float | None) -> dict[str, Any]:
    """An httpx timeout extension: ``seconds`` for every phase (None: unlimited reads), and
    never more than 30 s to connect."""
    connect = CONNECT_TIMEOUT if seconds is None else min(seconds, CONNECT_TIMEOUT)
    return httpx.Timeout(seconds, connect=connect).as_dict()


@dataclass(frozen=True)
class Server:
    """One openfal server as seen by a client: its base URL and the key to send."""

    base_url: str
    key: str | None = None
    default_timeout: float = 120.0

    @classmethod
    def resolve(
        cls,
        base_url: str | None,
        key: str | None,
        default_timeout: float = 120.0,
        env: Mapping[str, str] | None = None,
    ) -> Server:
        env = os.environ if env is None else env
        url = base_url or env.get("OPENFAL_URL") or DEFAULT_URL
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"Invalid openfal URL {url!r}: must start with http:// or https://")
        return cls(url.rstrip("/"), key if key is not None else key_from_env(env), default_timeout)

    # ------------------------------------------------------------------ URLs

    def run_url(self, application: str, path: str = "") -> str:
        return join(f"{self.base_url}/{application.strip('/')}", path)

    def queue_url(self, application: str, path: str = "") -> str:
        return join(f"{self.base_url}/queue/{application.strip('/')}", path)

    def request_url(self, application: str, request_id: str) -> str:
        """The result URL of a request, as the server builds it (the endpoint path dropped)."""
        return f"{self.base_url}/queue/{AppId.parse(application).app}/requests/{request_id}"

    def rest_url(self, path: str) -> str:
        return join(f"{self.base_url}/rest", path)

    def cdn_url(self, path: str) -> str:
        return join(f"{self.base_url}/cdn", path)

    def ws_url(self, path: str) -> str:
        ws_base = "ws" + self.base_url[len("http") :]
        return join(ws_base, path)

    # ------------------------------------------------------------------ requests

    def headers(
        self, extra: Mapping[str, str] | None = None, *, auth: bool = True
    ) -> dict[str, str]:
        headers = {"user-agent": USER_AGENT}
        if auth and self.key:
            headers["authorization"] = f"Key {self.key}"
        headers.update({k.lower(): v for k, v in (extra or {}).items()})
        return headers

    def request(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        content: bytes | None = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        auth: bool = True,
        timeout: float | None = None,
    ) -> httpx.Request:
        all_headers = self.headers(headers, auth=auth)
        if json_body is not None:
            content = json.dumps(json_body).encode()
            all_headers.setdefault("content-type", "application/json")
        return httpx.Request(
            method.upper(),
            url,
            params=params,
            content=content,
            headers=all_headers,
            extensions={"timeout": timeouts(timeout)},
        )


def timeout_header(seconds: float) -> str:
    """``X-Fal-Request-Timeout``: like fal_client, more than one second."""
    try:
        value = float(seconds)
    except (TypeError, ValueError):
        raise ValueError(f"start_timeout must be a number, got {seconds!r}") from None
    if not value > 1:
        raise ValueError(f"start_timeout must be greater than 1 second, got {seconds!r}")
    return str(value)


def priority_header(priority: str) -> str:
    if priority not in ("normal", "low"):
        raise ValueError(f"priority must be 'normal' or 'low', got {priority!r}")
    return priority
