"""Turns an `openfal.App` class into an HTTP app and serves it (docs/runner-protocol.md).

`python -m openfal.runner APP_REF --host 127.0.0.1 --port PORT` serves one app; the worker
starts one such process per app replica.
"""

from openfal.runner._app import build_app
from openfal.runner._serve import EXIT_SETUP_FAILED, serve

__all__ = ["EXIT_SETUP_FAILED", "build_app", "serve"]
