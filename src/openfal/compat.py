"""Point the official ``fal_client`` (PyPI) at an openfal server, with no code changes to it.

``fal_client`` builds its URLs from five module attributes (PROTOCOL.md §12.1); everything
else follows the URLs the server answers with::

    import fal_client
    from openfal.compat import use_server

    use_server("http://127.0.0.1:8000")
    fal_client.subscribe("openfal/echo", arguments={"message": "hi"})
"""

from __future__ import annotations

import os
from typing import Any

PLACEHOLDER_KEY = "openfal"  # fal_client refuses to run without a key; an open server ignores it
_ENV_KEY = "env:FAL_KEY"


def server_urls(base_url: str) -> dict[str, str]:
    """The five ``fal_client.client`` attributes for an openfal server at ``base_url``."""
    base = base_url.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ValueError(f"Invalid openfal URL {base_url!r}: must start with http:// or https://")
    ws = "ws" + base[len("http") :]
    return {
        "RUN_URL_FORMAT": f"{base}/",
        "QUEUE_URL_FORMAT": f"{base}/queue/",
        "REALTIME_URL_FORMAT": f"{ws}/",
        "REST_URL": f"{base}/rest",
        "CDN_URL": f"{base}/cdn",
    }


def use_server(base_url: str, key: str | None = None) -> dict[str, str | None]:
    """Point the installed ``fal_client`` at ``base_url``; answer what was there before.

    Sets the five URL attributes of ``fal_client.client``. ``key`` becomes ``FAL_KEY``; with
    no key and no fal credentials in the environment a placeholder is set, because fal_client
    will not send a request without one. The module-level clients forget their cached key,
    HTTP client and CDN token so the change applies at once. The answer maps each attribute
    (and ``"env:FAL_KEY"`` when the key changed) to its previous value; pass it to
    :func:`restore` to undo.
    """
    import fal_client
    import fal_client.client as module

    previous: dict[str, str | None] = {}
    for attr, value in server_urls(base_url).items():
        previous[attr] = getattr(module, attr)
        setattr(module, attr, value)
    has_env_key = os.environ.get("FAL_KEY") or (
        os.environ.get("FAL_KEY_ID") and os.environ.get("FAL_KEY_SECRET")
    )
    if key is not None or not has_env_key:
        previous[_ENV_KEY] = os.environ.get("FAL_KEY")
        os.environ["FAL_KEY"] = key if key is not None else PLACEHOLDER_KEY
    _forget_cached(fal_client)
    return previous


def restore(previous: dict[str, str | None]) -> None:
    """Undo :func:`use_server` with what it answered."""
    import fal_client
    import fal_client.client as module

    for name, value in previous.items():
        if name == _ENV_KEY:
            if value is None:
                os.environ.pop("FAL_KEY", None)
            else:
                os.environ["FAL_KEY"] = value
        else:
            setattr(module, name, value)
    _forget_cached(fal_client)


def _forget_cached(fal_client: Any) -> None:
    """The shared clients cache their credentials, HTTP client and CDN token manager (which
    copies ``REST_URL``) on first use."""
    for client in (fal_client.sync_client, fal_client.async_client):
        cached = vars(client)
        for name in ("_auth", "_token_manager", "_client"):
            old = cached.pop(name, None)
            if name == "_client" and hasattr(old, "close"):
                old.close()
