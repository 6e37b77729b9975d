"""Secrets: encrypted at rest, handed to runners as environment variables, redacted.

The store holds only Fernet tokens (AES-128-CBC + HMAC-SHA256, from ``cryptography``).
The key comes from ``OPENFAL_SECRETS_KEY`` (a Fernet key the operator gives every
gateway and worker of a cluster), else from ``DATA_DIR/secrets.key``, created with mode
0600 on first use by ``openfal serve``. A copy of the SQLite file or of Redis alone
therefore reveals no secret.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from openfal.errors import OpenfalError

ENV_KEY = "OPENFAL_SECRETS_KEY"
ENV_NAMES = "OPENFAL_SECRET_NAMES"  # tells a runner which of its variables to redact
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
REDACTED = "[REDACTED]"
_RESERVED = ("OPENFAL_", "FAL_", "PYTHON", "PATH", "LD_", "HOME")


class SecretError(OpenfalError, ValueError):
    """A bad secret name or value, or a key that cannot decrypt what the store holds."""

    status_code = 400
    error_type = "bad_request"


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise SecretError(
            f"secret name {name!r}: use letters, digits and '_', not starting with a digit"
        )
    if name.upper().startswith(_RESERVED):
        raise SecretError(f"secret name {name!r} is reserved for the platform")
    return name


class SecretBox:
    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError as e:
            raise SecretError(f"invalid secrets key: {e}") from None

    @classmethod
    def load(cls, data_dir: Path | None) -> SecretBox:
        """``$OPENFAL_SECRETS_KEY``, else ``data_dir/secrets.key`` (made if missing)."""
        given = os.environ.get(ENV_KEY)
        if given:
            return cls(given.strip().encode())
        if data_dir is None:
            raise SecretError(
                f"no secrets key: set {ENV_KEY} (the same Fernet key on every gateway and "
                "worker; make one with `openfal secrets keygen`)"
            )
        return cls(_key_file(data_dir / "secrets.key"))

    def encrypt(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise SecretError("a stored secret does not decrypt with this secrets key") from None


def _key_file(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as f:
        f.write(Fernet.generate_key())
    return path.read_bytes().strip()


class Redactor:
    """Replaces secret values in text (values shorter than 4 characters are left alone:
    they would redact ordinary words)."""

    def __init__(self, values: list[str] | None = None) -> None:
        self.update(values or [])

    def update(self, values: list[str]) -> None:
        keep = sorted({v for v in values if len(v) >= 4}, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, keep))) if keep else None

    def __call__(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(REDACTED, text)
