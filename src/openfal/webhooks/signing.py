"""Sign webhook deliveries with Ed25519 and publish the public keys as a JWKS.

The platform keeps one private key per data dir (``SigningKey.load_or_create``); the
JWKS built by ``jwks`` is what ``GET /.well-known/jwks.json`` serves, and may list
several keys so that a key can be rotated without breaking receivers.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import secrets
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from openfal.webhooks.verify import (
    REQUEST_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    USER_ID_HEADER,
    signing_message,
)

log = logging.getLogger(__name__)

KEY_FILE_MODE = 0o600
_KEY_DIR_MODE = 0o700


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url, as JWKs spell binary values (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class SigningKey:
    """An Ed25519 private key with its key id (``kid``) and public JWK."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private = private_key
        self._public_raw = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.kid = _thumbprint(self._public_raw)

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, pem: bytes) -> SigningKey:
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("not an Ed25519 private key")
        return cls(key)

    @classmethod
    def load_or_create(cls, path: str | os.PathLike[str]) -> SigningKey:
        """Load the PEM key at ``path``, or create one there readable by the owner only."""
        path = Path(path)
        try:
            pem = path.read_bytes()
        except FileNotFoundError:
            return cls._create(path)
        _warn_if_exposed(path)
        return cls.from_pem(pem)

    @classmethod
    def _create(cls, path: Path) -> SigningKey:
        path.parent.mkdir(parents=True, exist_ok=True, mode=_KEY_DIR_MODE)
        key = cls.generate()
        if _publish_exclusively(path, key.private_pem()):
            log.info("created webhook signing key %s at %s", key.kid, path)
            return key
        # Another process created the key first; everyone must sign with the same one.
        return cls.from_pem(path.read_bytes())

    def private_pem(self) -> bytes:
        return self._private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def public_bytes(self) -> bytes:
        """The raw 32-byte public key."""
        return self._public_raw

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)

    def public_jwk(self) -> dict[str, str]:
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64url_encode(self._public_raw),
            "kid": self.kid,
            "use": "sig",
            "alg": "EdDSA",
        }

    def __repr__(self) -> str:
        # Never show key material; the kid identifies the key well enough.
        return f"SigningKey(kid={self.kid!r})"


def _thumbprint(public_raw: bytes) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url), so any JOSE library recomputes it."""
    # RFC 7638 §3.2: the required members only, sorted, with no whitespace.
    members = {"crv": "Ed25519", "kty": "OKP", "x": b64url_encode(public_raw)}
    canonical = json.dumps(members, sort_keys=True, separators=(",", ":"))
    return b64url_encode(hashlib.sha256(canonical.encode("ascii")).digest())


def _publish_exclusively(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` unless it exists; False if another writer won.

    The file is written in full under a temporary name and then hard-linked into place,
    which fails if the path exists: concurrent starters never see a half-written key,
    nor overwrite one.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        _write_private(tmp, data, os.O_TRUNC)
        os.link(tmp, path)
    except FileExistsError:
        return False
    except OSError:
        # A filesystem without hard links: fall back to an exclusive create in place.
        try:
            _write_private(path, data, os.O_EXCL)
        except FileExistsError:
            return False
    finally:
        tmp.unlink(missing_ok=True)
    return True


def _write_private(path: Path, data: bytes, flag: int) -> None:
    # Created 0600 from the start, so the key is never readable by others, even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | flag, KEY_FILE_MODE)
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), KEY_FILE_MODE)  # O_CREAT's mode is masked by the umask
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _warn_if_exposed(path: Path) -> None:
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        log.warning("webhook signing key %s is accessible by others (mode %o)", path, mode)


def sign_headers(
    key: SigningKey,
    request_id: str,
    user_id: str,
    body: bytes,
    timestamp: int | None = None,
) -> dict[str, str]:
    """The headers of a signed webhook POST of ``body``, Content-Type included.

    ``timestamp`` is unix seconds, the current time by default.
    """
    for name, value in (("request_id", request_id), ("user_id", user_id)):
        # A newline would shift the fields of the signed message (and break the header).
        if "\n" in value or "\r" in value:
            raise ValueError(f"{name} must not contain line breaks")
    ts = str(int(time.time()) if timestamp is None else int(timestamp))
    signature = key.sign(signing_message(request_id, user_id, ts, body))
    return {
        "Content-Type": "application/json",
        REQUEST_ID_HEADER: request_id,
        USER_ID_HEADER: user_id,
        TIMESTAMP_HEADER: ts,
        SIGNATURE_HEADER: signature.hex(),
    }


def jwks(keys: list[SigningKey]) -> dict[str, list[dict[str, str]]]:
    """The JWKS document listing the public halves of ``keys`` (current and rotated)."""
    seen: set[str] = set()
    listed = []
    for key in keys:
        if key.kid not in seen:  # the same key twice would only confuse receivers
            seen.add(key.kid)
            listed.append(key.public_jwk())
    return {"keys": listed}
