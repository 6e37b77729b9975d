"""Short-lived JWTs that let a browser or script open one app's realtime socket or stream.

``POST /rest/tokens/`` mints one for the caller (PROTOCOL.md §6.1); a URL then carries it as
``?fal_jwt_token=``. A token is an HS256 JWT (PyJWT) whose claims name its owner (``sub``)
and the apps it may reach (``allowed_apps``: aliases, as the clients send them, or full
``owner/alias`` ids), with ``iat``/``exp``/``iss``.

The signing secret is the same for every gateway that must accept the token: the server
passes it to ``configure`` at start (see ``openfal.server.secrets``); until then a random
one for this process only.

    Unauthorized (401)
    └── InvalidToken        forged, malformed, expired or from another issuer
    Forbidden (403)
    └── TokenNotForApp      valid, but not for the app being reached
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from typing import Any

import jwt

from openfal.gateway.errors import Forbidden, Unauthorized

__all__ = [
    "ALGORITHM",
    "ANONYMOUS",
    "MAX_TTL",
    "InvalidToken",
    "TokenNotForApp",
    "configure",
    "mint_token",
    "verify_token",
]

ALGORITHM = "HS256"
ISSUER = "openfal"
ANONYMOUS = "anonymous"  # the owner of tokens minted while the server has no keys
MAX_TTL = 24 * 3600

_secret: bytes | None = None


class InvalidToken(Unauthorized):
    error_type = "invalid_token"


class TokenNotForApp(Forbidden):
    error_type = "forbidden"


def configure(secret: bytes | str) -> None:
    """Sign and verify with ``secret`` from now on (the server calls this at start)."""
    global _secret
    value = secret.encode() if isinstance(secret, str) else secret
    if len(value) < 32:
        raise ValueError("the token secret must be at least 32 bytes long")
    _secret = value


def _key(secret: bytes | None) -> bytes:
    global _secret
    if secret is not None:
        return secret
    if _secret is None:
        _secret = secrets.token_bytes(32)
    return _secret


def mint_token(
    owner: str | None, allowed_apps: Sequence[str], ttl: float, *, secret: bytes | None = None
) -> str:
    """A token for ``owner`` (None: anonymous) reaching ``allowed_apps`` for ``ttl`` seconds."""
    if not allowed_apps or not all(isinstance(a, str) and a.strip("/") for a in allowed_apps):
        raise ValueError("allowed_apps must be a non-empty list of app aliases or ids")
    if not 0 < ttl <= MAX_TTL:
        raise ValueError(f"token_expiration must be between 1 and {MAX_TTL} seconds")
    issued = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": owner or ANONYMOUS,
        "allowed_apps": [a.strip("/") for a in allowed_apps],
        "iat": issued,
        "exp": issued + int(ttl),
    }
    return jwt.encode(claims, _key(secret), algorithm=ALGORITHM)


def verify_token(token: str, app_id: str, *, secret: bytes | None = None) -> dict[str, Any]:
    """The claims of ``token`` if it is valid and allows ``app_id`` (``[ns/]owner/alias``).

    Raises ``InvalidToken`` (401) or ``TokenNotForApp`` (403), each saying why.
    """
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            _key(secret),
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("Token expired") from None
    except jwt.InvalidTokenError as exc:
        raise InvalidToken(f"Invalid token: {exc}") from None
    allowed = claims.get("allowed_apps")
    if not isinstance(allowed, list):
        raise InvalidToken("Invalid token: no allowed_apps claim")
    alias = app_id.rsplit("/", 1)[-1]
    if app_id not in allowed and alias not in allowed:
        raise TokenNotForApp(f"Token does not allow app '{app_id}'")
    return claims
