"""Keys, limits and webhooks, from the settings, for every process that serves requests.

The gateway's auth policy and limits, the webhook allow-list and the JWKS it publishes,
and the webhook sender. Any number of senders may share a store: each webhook is leased
to one at a time.
"""

from __future__ import annotations

from openfal.gateway.auth import AuthSettings, is_loopback
from openfal.gateway.webhooks import WebhookSettings
from openfal.server.settings import Settings
from openfal.store import Store
from openfal.webhooks import RetryPolicy, SigningKey
from openfal.webhooks.sender import SenderConfig, WebhookSender

__all__ = ["auth_settings", "start_sender", "webhook_settings"]


def auth_settings(settings: Settings) -> AuthSettings:
    """Dev mode (no key needed while none exists) only when bound to loopback."""
    return AuthSettings(
        open_without_keys=is_loopback(settings.host),
        rate_limit=settings.rate_limit,
        rate_window=settings.rate_window,
        max_concurrent=settings.max_concurrent,
    )


def webhook_settings(settings: Settings, key: SigningKey) -> WebhookSettings:
    return WebhookSettings(keys=[key], allow=tuple(settings.webhook_allow))


def sender_config(settings: Settings) -> SenderConfig:
    retry = RetryPolicy(
        max_attempts=settings.webhook_max_attempts,
        first_delay=settings.webhook_retry_base,
        jitter=settings.webhook_retry_jitter,
    )
    return SenderConfig(
        retry=retry, timeout=settings.webhook_timeout, allow=tuple(settings.webhook_allow)
    )


async def start_sender(
    store: Store, settings: Settings, key: SigningKey, *, recover_leases: bool = False
) -> WebhookSender:
    sender = WebhookSender(store, key, sender_config(settings))
    await sender.start(recover_leases=recover_leases)
    return sender
