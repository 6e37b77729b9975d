"""Signed webhook deliveries, in fal's exact format.

- signing: the platform's Ed25519 key, the signature headers and the JWKS to publish;
- verification: ``verify`` (and ``fetch_jwks``), for receivers;
- payload: the JSON body of a delivery;
- delivery: one try (``deliver_once``), the retry schedule and the URL guard.

``verify``, signing and payload need only ``cryptography``; the delivery names (which
need ``httpx``) are imported on first use, so a receiver importing ``verify`` loads no
HTTP client.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from openfal.webhooks.payload import build_payload
from openfal.webhooks.signing import SigningKey, jwks, sign_headers
from openfal.webhooks.verify import clear_jwks_cache, fetch_jwks, verify

if TYPE_CHECKING:
    from openfal.webhooks.delivery import (
        Attempt,
        RetryPolicy,
        UrlGuard,
        WebhookTarget,
        WebhookUrlRefused,
        WebhookUrlUnresolvable,
        check_webhook_url,
        check_webhook_url_async,
        deliver_once,
    )

_DELIVERY_NAMES = frozenset(
    {
        "Attempt",
        "RetryPolicy",
        "UrlGuard",
        "WebhookTarget",
        "WebhookUrlRefused",
        "WebhookUrlUnresolvable",
        "check_webhook_url",
        "check_webhook_url_async",
        "deliver_once",
    }
)


def __getattr__(name: str) -> Any:
    # PEP 562: load the delivery module (and httpx with it) only when it is asked for.
    if name in _DELIVERY_NAMES:
        return getattr(importlib.import_module("openfal.webhooks.delivery"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Attempt",
    "RetryPolicy",
    "SigningKey",
    "UrlGuard",
    "WebhookTarget",
    "WebhookUrlRefused",
    "WebhookUrlUnresolvable",
    "build_payload",
    "check_webhook_url",
    "check_webhook_url_async",
    "clear_jwks_cache",
    "deliver_once",
    "fetch_jwks",
    "jwks",
    "sign_headers",
    "verify",
]
