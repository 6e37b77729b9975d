"""The wiring: how a settings object becomes running server processes.

- :mod:`~openfal.server.settings`: ``Settings``, one typed object built from flags,
  ``OPENFAL_*`` environment variables and a TOML file, validated once.
- :mod:`~openfal.server.gateway`: ``build_gateway(settings, store, storage, secrets, …)``,
  and ``openfal gateway`` (the HTTP surfaces alone on a shared store).
- :mod:`~openfal.server.worker`: ``build_worker(settings, store, …)``, and ``openfal
  worker`` (dispatcher and runners of one host on a shared store).
- :mod:`~openfal.server.serve`: ``openfal serve`` = both in one process.
- :mod:`~openfal.server.secrets`: the upload, token and webhook secrets, made one way.
- :mod:`~openfal.server.security`: auth policy, limits and the webhook sender.
- :mod:`~openfal.server.apps`: app code on this host (registrations, input models).
- :mod:`~openfal.server.broker`: realtime sessions on runners anywhere (``StoreBroker``).
- :mod:`~openfal.server.runtime`: logging, event loop, uvicorn, the storage sweeper.

This package is the top layer: it may import every other server-side package; nothing
but the CLI imports it (docs/architecture.md, "Dependency direction").
"""

from openfal.server.apps import BUILTIN_APPS, app_record, resolve_ref
from openfal.server.gateway import build_gateway
from openfal.server.runtime import sweep_storage
from openfal.server.serve import run, serve
from openfal.server.settings import Settings, SettingsError, load_settings
from openfal.server.worker import build_worker

__all__ = [
    "BUILTIN_APPS",
    "Settings",
    "SettingsError",
    "app_record",
    "build_gateway",
    "build_worker",
    "load_settings",
    "resolve_ref",
    "run",
    "serve",
    "sweep_storage",
]
