"""The server's three secrets, made one way.

- ``upload``: HMAC secret of signed upload URLs,
- ``token``: HS256 secret of realtime/stream tokens,
- ``webhook``: Ed25519 key that signs webhooks (published as the JWKS).

A server that owns its store (``openfal serve`` on SQLite) keeps them in its data dir
(``upload.key``, ``token.key``, ``webhook.key``, created mode 0600 on first start); processes
sharing a store (gateways and workers on Redis) take the ones stored there, created once by
whichever process asks first, so every gateway accepts what any other one signed.
``token_secret`` in the settings overrides the token secret either way.
"""

from __future__ import annotations

import secrets as random
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from openfal.server.settings import Settings
from openfal.store import Store
from openfal.webhooks import SigningKey

__all__ = ["ServerSecrets", "file_secret", "load_secrets"]


@dataclass(frozen=True)
class ServerSecrets:
    upload: bytes
    token: bytes
    webhook: SigningKey


async def load_secrets(settings: Settings, store: Store, *, shared: bool) -> ServerSecrets:
    """The data dir's secrets, or (``shared``: the store is shared) the store's."""
    if not shared:
        folder = settings.data_dir
        upload = file_secret(folder / "upload.key")
        token = file_secret(folder / "token.key")
        webhook = SigningKey.load_or_create(folder / "webhook.key")
    else:
        upload = await store.shared_secret("upload-signing")
        token = await store.shared_secret("token-signing")
        seed = await store.shared_secret("webhook-signing", 32)
        webhook = SigningKey(Ed25519PrivateKey.from_private_bytes(seed))
    if settings.token_secret:
        token = settings.token_secret.encode()
    return ServerSecrets(upload=upload, token=token, webhook=webhook)


def file_secret(path: Path) -> bytes:
    """The secret in ``path``, created (64 hex digits, mode 0600) when missing."""
    try:
        data = path.read_bytes().strip()
        if data:
            return data
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = random.token_hex(32).encode()
    partial = path.with_suffix(".partial")
    partial.write_bytes(value)
    partial.chmod(0o600)
    partial.replace(path)
    return value
