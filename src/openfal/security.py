"""Keys, limits and webhooks for every process that serves requests.

``openfal serve``, ``openfal gateway`` and ``openfal worker`` take the same options
(``cli/security_args.py``) and wire them the same way: the gateway's auth policy and
limits, the webhook allow-list, the signing key the JWKS publishes, and a webhook sender.
Any number of senders may share a store: each webhook is leased to one at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.applications import Starlette

from openfal.gateway.auth import AuthSettings, announce_policy, is_loopback
from openfal.gateway.webhooks import WebhookSettings
from openfal.store import Store
from openfal.webhooks import RetryPolicy, SigningKey
from openfal.webhooks.sender import SenderConfig, WebhookSender

SHARED_KEY_NAME = "webhook-signing"


@dataclass
class SecurityConfig:
    rate_limit: int | None = None  # requests per rate window per user; None: unlimited
    rate_window: float = 60.0
    max_concurrent: int | None = None  # queued + running requests per user
    webhook_allow: list[str] = field(default_factory=list)
    webhook_retry_base: float = 15.0
    webhook_max_attempts: int = 10
    webhook_timeout: float = 15.0
    # each retry's wait is spread by up to ±20 %, so that webhooks that failed together (a
    # receiver was down) do not all come back at the same moment
    webhook_retry_jitter: float = 0.2

    def auth(self, host: str) -> AuthSettings:
        """Dev mode (no key needed while none exists) only when bound to loopback."""
        return AuthSettings(
            open_without_keys=is_loopback(host),
            rate_limit=self.rate_limit,
            rate_window=self.rate_window,
            max_concurrent=self.max_concurrent,
        )

    def sender(self) -> SenderConfig:
        retry = RetryPolicy(
            max_attempts=self.webhook_max_attempts,
            first_delay=self.webhook_retry_base,
            jitter=self.webhook_retry_jitter,
        )
        return SenderConfig(
            retry=retry, timeout=self.webhook_timeout, allow=tuple(self.webhook_allow)
        )


async def signing_key(store: Store, data_dir: Path | None) -> SigningKey:
    """The webhook signing key: ``<data_dir>/webhook.key`` for one embedded server (made on
    first start), else the one every process sharing ``store`` agrees on (kept there)."""
    if data_dir is not None:
        return SigningKey.load_or_create(data_dir / "webhook.key")
    seed = await store.shared_secret(SHARED_KEY_NAME, 32)
    return SigningKey(Ed25519PrivateKey.from_private_bytes(seed))


async def secure(
    app: Starlette, store: Store, cfg: SecurityConfig, host: str, key: SigningKey, where: str
) -> None:
    """Set a gateway's policy, limits, allow-list and JWKS; say once who may call.
    ``where`` is the store option that ``openfal keys create`` needs (for the hint)."""
    app.state.auth = cfg.auth(host)
    app.state.webhooks = WebhookSettings(keys=[key], allow=tuple(cfg.webhook_allow))
    await announce_policy(store, app.state.auth, host, where)


async def start_sender(
    store: Store, cfg: SecurityConfig, key: SigningKey, *, recover_leases: bool = False
) -> WebhookSender:
    sender = WebhookSender(store, key, cfg.sender())
    await sender.start(recover_leases=recover_leases)
    return sender
