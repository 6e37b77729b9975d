"""API keys, rate-limit buckets, concurrency slots and file owners: the store's part of auth.

A key belongs to a user (a plain name); a user may hold several keys. The secret is
shown once, at creation, and stored only as a scrypt digest. Verifying a secret reads
the key record every time (a revoked key fails at once, a new key works at once); only
the slow hash of a secret already verified against that very digest is remembered, so
the hot path costs one read and one SHA-256.

Rate limits are token buckets (``limit`` requests per ``window`` seconds, refilling
continuously) keyed by user. Concurrency slots hold the ids of a user's queued and
running requests; taking a slot first drops the ids of requests that finished (or never
appeared), so a slot whose release was lost frees itself. Every check-and-take is one
atomic step of the backend (a Lua script, a write transaction, or one event-loop step).
"""

from __future__ import annotations

import abc
import asyncio
import base64
import hashlib
import hmac
import secrets
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from openfal.store import clock


class KeyScope(str, Enum):
    API = "API"  # run requests, see one's own requests and files
    ADMIN = "ADMIN"  # also every user's requests, and /rest/keys


@dataclass(frozen=True)
class KeyRecord:
    id: str
    user: str
    scope: KeyScope
    secret_hash: str = field(repr=False)  # never shown, even in logs
    description: str = ""
    created_at: float = 0.0
    revoked_at: float | None = None
    rate_limit: int | None = None  # requests per rate window; None: the server's default
    max_concurrent: int | None = None  # queued + running requests; None: the default

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def public(self) -> dict[str, Any]:
        """The record without its digest (what listings show)."""
        return {
            "key_id": self.id,
            "user": self.user,
            "scope": self.scope.value,
            "description": self.description,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
            "rate_limit": self.rate_limit,
            "max_concurrent": self.max_concurrent,
        }


def key_to_row(key: KeyRecord) -> dict[str, Any]:
    row = key.public()
    row["id"] = row.pop("key_id")
    row["secret_hash"] = key.secret_hash
    return row


def row_to_key(row: dict[str, Any]) -> KeyRecord:
    return KeyRecord(
        id=str(row["id"]),
        user=str(row["user"]),
        scope=KeyScope(row["scope"]),
        secret_hash=str(row["secret_hash"]),
        description=str(row.get("description") or ""),
        created_at=float(row.get("created_at") or 0.0),
        revoked_at=None if row.get("revoked_at") is None else float(row["revoked_at"]),
        rate_limit=None if row.get("rate_limit") is None else int(row["rate_limit"]),
        max_concurrent=None if row.get("max_concurrent") is None else int(row["max_concurrent"]),
    )


# ---------------------------------------------------------------------- secrets

_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1  # ~50 ms and 16 MiB per hash


def hash_secret(secret: str) -> str:
    """A salted scrypt digest: ``scrypt$N$r$p$salt$digest`` (base64)."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(secret, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    return "$".join(
        ["scrypt", str(_SCRYPT_N), str(_SCRYPT_R), str(_SCRYPT_P), _b64(salt), _b64(digest)]
    )


def check_secret(secret: str, stored: str) -> bool:
    """Constant-time check of ``secret`` against a digest made by :func:`hash_secret`."""
    try:
        name, n, r, p, salt, digest = stored.split("$")
        if name != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = _scrypt(secret, base64.b64decode(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(actual, expected)


def _scrypt(secret: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024**2, dklen=32)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class _VerifiedSecrets:
    """Remembers ``(key id, stored digest) -> sha256(secret)`` of secrets that passed
    scrypt, so each key pays the slow hash once per process. Keyed by the digest too: a
    key re-created under the same id never matches an old entry."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._seen: OrderedDict[tuple[str, str], bytes] = OrderedDict()

    def known(self, key: KeyRecord, secret: str) -> bool:
        fast = self._seen.get((key.id, key.secret_hash))
        return fast is not None and hmac.compare_digest(fast, _sha256(secret))

    def remember(self, key: KeyRecord, secret: str) -> None:
        self._seen[(key.id, key.secret_hash)] = _sha256(secret)
        self._seen.move_to_end((key.id, key.secret_hash))
        while len(self._seen) > self.size:
            self._seen.popitem(last=False)


def _sha256(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


# ---------------------------------------------------------------------- the contract


class AuthStore(abc.ABC):
    """Keys, limits and file owners (mixed into :class:`openfal.store.Store`)."""

    _verified: _VerifiedSecrets | None = None

    async def create_key(
        self,
        user: str,
        scope: KeyScope = KeyScope.API,
        *,
        description: str = "",
        rate_limit: int | None = None,
        max_concurrent: int | None = None,
    ) -> tuple[KeyRecord, str]:
        """A new key and its secret (the only time the secret exists in clear)."""
        user = user.strip()
        if not user or any(c in user for c in "\r\n:"):
            raise ValueError(f"invalid user name {user!r}")
        for name, value in (("rate_limit", rate_limit), ("max_concurrent", max_concurrent)):
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1")
        secret = secrets.token_hex(32)
        key = KeyRecord(
            id=str(uuid.uuid4()),
            user=user,
            scope=KeyScope(scope),
            secret_hash=hash_secret(secret),
            description=description,
            created_at=clock.now(),
            rate_limit=rate_limit,
            max_concurrent=max_concurrent,
        )
        await self._put_key(key)
        return key, secret

    async def get_key(self, key_id: str) -> KeyRecord | None:
        return await self._get_key(key_id)

    async def list_keys(self, user: str | None = None) -> list[KeyRecord]:
        """Every key (revoked ones too), oldest first."""
        keys = await self._list_keys()
        return sorted(
            (k for k in keys if user is None or k.user == user), key=lambda k: (k.created_at, k.id)
        )

    async def revoke_key(self, key_id: str) -> bool:
        """False when the key does not exist or was already revoked."""
        return await self._revoke_key(key_id, clock.now())

    async def has_keys(self) -> bool:
        """Whether any key was ever created (revoked ones count: auth stays on)."""
        return await self._any_key()

    async def authenticate(self, key_id: str, secret: str) -> KeyRecord | None:
        """The key when ``secret`` is its secret and it is not revoked, else None."""
        key = await self._get_key(key_id)
        if key is None or key.revoked:
            return None
        if self._verified is None:
            self._verified = _VerifiedSecrets()
        if self._verified.known(key, secret):
            return key
        # scrypt releases the GIL: the event loop stays free meanwhile
        if not await asyncio.to_thread(check_secret, secret, key.secret_hash):
            return None
        self._verified.remember(key, secret)
        return key

    async def take_rate_token(self, bucket: str, limit: int, window: float) -> float:
        """Take one request from ``bucket`` (``limit`` per ``window`` seconds).

        Returns 0.0 when taken, else the seconds until one will be available.
        """
        if limit < 1 or window <= 0:
            raise ValueError("a rate limit needs limit >= 1 and window > 0")
        return await self._take_token(bucket, limit, window, clock.now())

    async def acquire_slot(
        self, user: str, request_id: str, limit: int, *, grace: float = 60.0
    ) -> bool:
        """Count ``request_id`` among ``user``'s active requests if fewer than ``limit`` are.

        Slots of completed requests are dropped first, and so are slots of requests that
        do not exist ``grace`` seconds after the slot was taken (a submit that failed
        between taking the slot and storing the request).
        """
        return await self._acquire_slot(user, request_id, limit, clock.now(), grace)

    async def release_slot(self, user: str, request_id: str) -> None:
        await self._release_slot(user, request_id)

    async def active_slots(self, user: str) -> list[str]:
        return await self._slots(user)

    async def set_file_owner(self, file_key: str, owner: str) -> None:
        await self._put_file_owner(file_key, owner, clock.now())

    async def get_file_owner(self, file_key: str) -> str | None:
        return await self._get_file_owner(file_key)

    # ------------------------------------------------------------------ hooks

    @abc.abstractmethod
    async def _put_key(self, key: KeyRecord) -> None: ...

    @abc.abstractmethod
    async def _get_key(self, key_id: str) -> KeyRecord | None: ...

    @abc.abstractmethod
    async def _list_keys(self) -> list[KeyRecord]: ...

    @abc.abstractmethod
    async def _revoke_key(self, key_id: str, t: float) -> bool:
        """Set ``revoked_at`` if the key exists and is not revoked (atomically)."""

    @abc.abstractmethod
    async def _any_key(self) -> bool: ...

    @abc.abstractmethod
    async def _take_token(self, bucket: str, limit: int, window: float, t: float) -> float:
        """Token bucket, atomic: see :func:`token_bucket`."""

    @abc.abstractmethod
    async def _acquire_slot(
        self, user: str, request_id: str, limit: int, t: float, grace: float
    ) -> bool: ...

    @abc.abstractmethod
    async def _release_slot(self, user: str, request_id: str) -> None: ...

    @abc.abstractmethod
    async def _slots(self, user: str) -> list[str]: ...

    @abc.abstractmethod
    async def _put_file_owner(self, file_key: str, owner: str, t: float) -> None: ...

    @abc.abstractmethod
    async def _get_file_owner(self, file_key: str) -> str | None: ...


def token_bucket(
    tokens: float | None, updated: float | None, limit: int, window: float, t: float
) -> tuple[float, float, float]:
    """One step of the bucket every backend keeps: ``(tokens, updated, wait)``.

    A bucket holds up to ``limit`` tokens and gains ``limit / window`` per second; a
    request takes one. ``wait`` is 0.0 when it was taken, else the seconds until the
    next token. (The Redis script computes the same in Lua.)
    """
    rate = limit / window
    if tokens is None or updated is None:
        tokens, updated = float(limit), t
    tokens = min(float(limit), tokens + max(0.0, t - updated) * rate)
    if tokens >= 1.0:
        return tokens - 1.0, t, 0.0
    return tokens, t, (1.0 - tokens) / rate


def revoke(key: KeyRecord, t: float) -> KeyRecord | None:
    return None if key.revoked else replace(key, revoked_at=t)
