"""Verify a webhook delivery's Ed25519 signature, as a receiver does.

This is the helper receivers import (``from openfal.webhooks import verify``). It needs
only the standard library and ``cryptography`` (``fetch_jwks`` also needs ``httpx``,
imported when called), and it imports nothing else from openfal, so the file can also be
copied into a receiver's code base as it is.

The contract is fal's, so a receiver written for fal works unchanged:

- headers ``X-Fal-Webhook-Request-Id``, ``X-Fal-Webhook-User-Id``,
  ``X-Fal-Webhook-Timestamp`` (unix seconds) and ``X-Fal-Webhook-Signature`` (hex);
- the signed message is the UTF-8 bytes of
  ``request_id + "\\n" + user_id + "\\n" + timestamp + "\\n" + sha256_hex(raw body)``;
- the public keys are a JWKS of Ed25519 (``OKP``) keys; any of them may have signed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

REQUEST_ID_HEADER = "X-Fal-Webhook-Request-Id"
USER_ID_HEADER = "X-Fal-Webhook-User-Id"
TIMESTAMP_HEADER = "X-Fal-Webhook-Timestamp"
SIGNATURE_HEADER = "X-Fal-Webhook-Signature"

DEFAULT_TOLERANCE = 300.0  # seconds of clock skew a receiver accepts either way
_SIGNATURE_HEX_LEN = 128  # an Ed25519 signature is 64 bytes
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def signing_message(request_id: str, user_id: str, timestamp: str, body: bytes) -> bytes:
    """The exact bytes that are signed: the one definition both signer and verifier use."""
    digest = hashlib.sha256(body).hexdigest()
    return f"{request_id}\n{user_id}\n{timestamp}\n{digest}".encode()


def b64url_decode(data: str) -> bytes:
    """Decode unpadded base64url (RFC 7515 §2), strictly: stray characters are errors."""
    padded = data + "=" * (-len(data) % 4)
    return base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True)


def verify(
    headers: Mapping[str, str],
    body: bytes | bytearray | memoryview,
    jwks: Mapping[str, Any],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> bool:
    """Return True if ``body`` and ``headers`` carry a valid signature from a key in ``jwks``.

    Header names are matched case-insensitively. The timestamp must lie within
    ``tolerance`` seconds of ``now`` (default: the current time), which bounds replays.
    Returns False, never raises, on anything missing or malformed.
    """
    try:
        return _verify(headers, bytes(body), jwks, tolerance, time.time() if now is None else now)
    except Exception:
        # Inputs come from the network: whatever is wrong with them, the answer is "no".
        return False


def _verify(
    headers: Mapping[str, str],
    body: bytes,
    jwks: Mapping[str, Any],
    tolerance: float,
    now: float,
) -> bool:
    fields = _signature_fields(headers)
    if fields is None:
        return False
    request_id, user_id, timestamp, signature_hex = fields
    if not _timestamp_fresh(timestamp, tolerance, now):
        return False
    signature = _parse_signature(signature_hex)
    if signature is None:
        return False
    # The message uses the timestamp exactly as sent, so the signature binds that string.
    message = signing_message(request_id, user_id, timestamp, body)
    return any(_verifies(key, signature, message) for key in public_keys(jwks))


def _signature_fields(headers: Mapping[str, str]) -> tuple[str, str, str, str] | None:
    """The four signature headers, looked up case-insensitively; None if any is missing."""
    lowered = {str(name).lower(): value for name, value in headers.items()}
    names = (REQUEST_ID_HEADER, USER_ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER)
    values = [lowered.get(name.lower()) for name in names]
    if not all(isinstance(value, str) for value in values):
        return None
    request_id, user_id, timestamp, signature_hex = (str(value) for value in values)
    return request_id, user_id, timestamp, signature_hex


def _timestamp_fresh(timestamp: str, tolerance: float, now: float) -> bool:
    # Plain ASCII digits only: int() would also take " 12", "+12" or "1_2", and a
    # signature over one spelling must not be accepted under another reading.
    if not (timestamp.isascii() and timestamp.isdigit()):
        return False
    return abs(now - int(timestamp)) <= tolerance


def _parse_signature(signature_hex: str) -> bytes | None:
    # bytes.fromhex skips whitespace; insist on exactly 128 hex digits instead.
    if len(signature_hex) != _SIGNATURE_HEX_LEN or not set(signature_hex) <= _HEX_DIGITS:
        return None
    return bytes.fromhex(signature_hex)


def public_keys(jwks: Mapping[str, Any]) -> list[Ed25519PublicKey]:
    """The Ed25519 signing keys in a JWKS; keys of other types or uses are skipped."""
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(keys, list):
        return []
    found = []
    for jwk in keys:
        key = _ed25519_key(jwk)
        if key is not None:
            found.append(key)
    return found


def _ed25519_key(jwk: object) -> Ed25519PublicKey | None:
    if not isinstance(jwk, Mapping):
        return None
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        return None
    # "use" and "alg" are optional in a JWK, but when present they must allow signing.
    if jwk.get("use", "sig") != "sig" or jwk.get("alg", "EdDSA") not in ("EdDSA", "Ed25519"):
        return None
    x = jwk.get("x")
    if not isinstance(x, str):
        return None
    try:
        raw = b64url_decode(x)
        return Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, binascii.Error):
        return None


def _verifies(key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


# --- fetching a JWKS -----------------------------------------------------------------

DEFAULT_JWKS_TTL = 3600.0  # keys rotate rarely; an hour bounds how long a removed key lives

# url -> (expiry on the monotonic clock, jwks); module level so every caller shares it.
_jwks_cache: dict[str, tuple[float, dict[str, Any]]] = {}


async def fetch_jwks(
    url: str,
    *,
    ttl: float = DEFAULT_JWKS_TTL,
    refresh: bool = False,
    client: Any = None,
    timeout: float = 10.0,
) -> dict[str, Any]:
    """GET the JWKS at ``url``, cached in memory for ``ttl`` seconds.

    Pass ``refresh=True`` to bypass the cache, e.g. once after a signature fails to
    verify against cached keys (the sender may have rotated). ``client`` is an optional
    ``httpx.AsyncClient`` to reuse. Raises ``httpx.HTTPError`` on a failed fetch and
    ``ValueError`` when the document is not a JWKS.
    """
    cached = _jwks_cache.get(url)
    if cached is not None and not refresh and cached[0] > time.monotonic():
        return cached[1]
    document = await _get_json(url, client, timeout)
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError(f"{url} did not return a JWKS (an object with a 'keys' list)")
    _jwks_cache[url] = (time.monotonic() + ttl, document)
    return document


def clear_jwks_cache() -> None:
    """Forget every cached JWKS."""
    _jwks_cache.clear()


async def _get_json(url: str, client: Any, timeout: float) -> Any:
    # Imported here so that verify() itself needs nothing beyond cryptography.
    import httpx

    if client is not None:
        response = await client.get(url, timeout=timeout)
    else:
        async with httpx.AsyncClient(timeout=timeout) as own:
            response = await own.get(url)
    response.raise_for_status()
    return response.json()
