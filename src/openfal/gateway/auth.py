"""Who is calling: the principal of every HTTP request and WebSocket, and the policy.

Credentials, in the order they are looked for:

- ``Authorization: Key <key_id>:<secret>`` — an API key (``openfal keys create``);
- ``Authorization: Bearer <token>`` — a short-lived token minted by ``/rest/tokens/``,
  scoped to the app in the URL;
- ``?fal_jwt_token=<token>`` — the same token, for WebSocket and stream URLs.

Policy: while the store holds no key at all and the server listens on loopback only
(``AuthSettings.open_without_keys``), every request is allowed as an anonymous admin
(dev mode; credentials are ignored, as the clients always send one). Otherwise a valid
key or token is required, and a missing, malformed, unknown or revoked one is answered
401 ``{"detail": "Invalid API key"}``. Keys are read from the store on every request:
a new key works on its first request and a revoked one fails on the next.

Some paths carry their own credential or none (signed upload URLs, CDN uploads with a
CDN token, health, JWKS); reading a file takes an optional credential (see
:func:`may_read_file`).
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from starlette.requests import HTTPConnection

from openfal.gateway import tokens
from openfal.gateway.errors import BadRequest, Forbidden, Unauthorized
from openfal.gateway.ids import parse_endpoint, parse_request_path
from openfal.store import KeyScope, Store

log = logging.getLogger("openfal.gateway")

INVALID_KEY = "Invalid API key"

# verify_token(token, app_id) -> claims; raises when the token is expired, forged or for
# another app (openfal.gateway.tokens.verify_token by default).
TokenVerifier = Callable[[str, str], Mapping[str, Any]]


@dataclass(frozen=True)
class Principal:
    user: str | None  # None: nobody in particular (dev mode, or a file read without a key)
    scope: KeyScope
    key_id: str | None = None
    via: str = "anonymous"  # "key" | "token" | "anonymous"
    rate_limit: int | None = None  # per-key overrides of the server's limits
    max_concurrent: int | None = None

    @property
    def admin(self) -> bool:
        return self.scope is KeyScope.ADMIN


DEV_MODE = Principal(None, KeyScope.ADMIN)  # no keys, loopback: everything is allowed
NOBODY = Principal(None, KeyScope.API)  # no credential where one is optional


@dataclass
class AuthSettings:
    """``open_without_keys``: allow anonymous requests while no key exists (``openfal
    serve`` sets it only when bound to loopback). Limits: ``rate_limit`` requests per
    ``rate_window`` seconds and ``max_concurrent`` queued + running requests per user
    (None: unlimited); a key may override both."""

    open_without_keys: bool = True
    rate_limit: int | None = None
    rate_window: float = 60.0
    max_concurrent: int | None = None
    verify_token: TokenVerifier | None = tokens.verify_token
    # once a key exists, it does for good (revoked ones count)
    _keys_exist: bool = field(default=False, init=False, repr=False)

    async def keys_required(self, store: Store) -> bool:
        if not self.open_without_keys or self._keys_exist:
            return True
        self._keys_exist = await store.has_keys()
        return self._keys_exist


class Access(Enum):
    PUBLIC = "public"  # no credential needed or looked at
    OWN_CREDENTIAL = "own"  # a Bearer here is the route's own token (CDN uploads)
    OPTIONAL = "optional"  # a credential is checked when given (file reads)
    REQUIRED = "required"


_PUBLIC_PATHS = frozenset(
    {
        "/health",
        "/metrics",  # scraped by Prometheus; holds no request data
        "/openapi.json",
        "/.well-known/jwks.json",
        "/rest/.well-known/jwks.json",
        "/rest/openapi/queue/openapi.json",
        "/api/fal/proxy",  # re-enters the app for its target, which is checked then
    }
)
_PUBLIC_PREFIXES = ("/rest/storage/upload/put/", "/ui/")


def access(method: str, path: str) -> Access:
    """How much credential a request needs, by method and path."""
    if path in _PUBLIC_PATHS or path.startswith(_PUBLIC_PREFIXES) or path == "/ui":
        return Access.PUBLIC
    if path == "/" and method in ("GET", "HEAD"):  # the playground asks for a key itself
        return Access.PUBLIC
    if path.startswith(("/files/", "/cdn/files/")):
        return Access.OPTIONAL if method in ("GET", "HEAD") else Access.OWN_CREDENTIAL
    return Access.REQUIRED


def credentials(headers: Mapping[str, str], query: Mapping[str, str]) -> tuple[str, str] | None:
    """``("key", "<id>:<secret>")``, ``("bearer", token)`` or None when none was sent."""
    raw = headers.get("authorization", "").strip()
    if raw:
        scheme, _, value = raw.partition(" ")
        return (scheme.lower(), value.strip())
    token = query.get("fal_jwt_token")
    return ("bearer", token.strip()) if token is not None else None


def app_of(path: str) -> str | None:
    """The app a URL addresses (a token is only good for its own app), or None."""
    try:
        if path.startswith("/queue/"):
            rest = path.removeprefix("/queue/")
            ref = parse_request_path(rest)
            return ref.app_id if ref is not None else parse_endpoint(rest).app_id
        return parse_endpoint(path).app_id
    except BadRequest:
        return None


async def resolve(
    store: Store,
    settings: AuthSettings,
    creds: tuple[str, str] | None,
    path: str,
    *,
    optional: bool = False,
) -> Principal:
    """The caller; raises :class:`Unauthorized` for bad (or, unless ``optional``, missing)
    credentials while keys are required."""
    if not await settings.keys_required(store):
        return DEV_MODE
    if creds is None:
        if optional:
            return NOBODY
        raise invalid_key()
    scheme, value = creds
    if scheme == "key":
        key_id, sep, secret = value.partition(":")
        key = await store.authenticate(key_id.strip(), secret.strip()) if sep else None
        if key is None:
            raise invalid_key()
        return Principal(key.user, key.scope, key.id, "key", key.rate_limit, key.max_concurrent)
    if scheme == "bearer":
        return _token_principal(settings, value, path)
    raise invalid_key()


def _token_principal(settings: AuthSettings, token: str, path: str) -> Principal:
    app_id = app_of(path)
    if settings.verify_token is None or app_id is None or not token:
        raise invalid_key()
    try:
        claims = settings.verify_token(token, app_id)
    except Forbidden:
        raise  # a valid token for another app: the verifier's own 403
    except Exception as e:
        log.info("refused a token for %s: %s", app_id, e)
        raise invalid_key() from None
    owner = claims.get("owner") or claims.get("sub")
    if not owner or owner == tokens.ANONYMOUS:
        # minted while the server had no keys: it stood for nobody, and now that keys are
        # required it cannot stand for anybody either
        log.info("refused a token for %s minted before keys existed", app_id)
        raise invalid_key()
    return Principal(str(owner), KeyScope.API, via="token")


def invalid_key() -> Unauthorized:
    return Unauthorized(INVALID_KEY, headers={"www-authenticate": "Key"})


# ---------------------------------------------------------------------- per request


def principal_of(conn: HTTPConnection) -> Principal:
    p = conn.scope.get("openfal.principal")
    return p if isinstance(p, Principal) else DEV_MODE


def may_see(conn: HTTPConnection, owner: str | None) -> bool:
    """Whether the caller may see something owned by ``owner`` (404 otherwise)."""
    p = principal_of(conn)
    return p.admin or (p.user is not None and p.user == owner)


async def may_read_file(conn: HTTPConnection, file_key: str) -> bool:
    """Files uploaded with a key belong to its user: only they (and admins) may read
    them. Files without an owner (made by apps, or uploaded in dev mode) are read by
    anyone who has the URL, like fal's CDN."""
    owner = await _store(conn).get_file_owner(file_key)
    return owner is None or may_see(conn, owner)


async def record_file_owner(conn: HTTPConnection, file_key: str, owner: str | None) -> None:
    if owner is not None:
        await _store(conn).set_file_owner(file_key, owner)


def _store(conn: HTTPConnection) -> Store:
    store: Store = conn.app.state.store
    return store


def auth_settings(conn: HTTPConnection) -> AuthSettings:
    settings: AuthSettings = conn.app.state.auth
    return settings


# ---------------------------------------------------------------------- serving


def is_loopback(host: str) -> bool:
    """Whether a bind address only accepts local connections."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def announce_policy(store: Store, settings: AuthSettings, host: str, where: str) -> None:
    """Say once, at start, who may call and how to create the first key. ``where`` is
    the store option for ``openfal keys create`` (``--data-dir D`` or ``--store URL``)."""
    if await store.has_keys():
        log.info("API keys are required (Authorization: Key <id>:<secret>)")
        return
    hint = f"create the first key with: openfal keys create --scope ADMIN {where}"
    if settings.open_without_keys:
        log.warning(
            "no API keys yet: requests are allowed without a key (dev mode, loopback only); %s",
            hint,
        )
    else:
        log.warning(
            "no API keys yet and %s is not loopback: every request needs a key; %s", host, hint
        )
