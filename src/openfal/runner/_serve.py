"""Serve one App over HTTP with uvicorn until told to stop."""

from __future__ import annotations

import traceback

import uvicorn

from openfal import toolkit
from openfal.runner._app import build_app
from openfal.sdk import load_app
from openfal.storage import Storage

__all__ = ["EXIT_SETUP_FAILED", "serve"]

EXIT_SETUP_FAILED = 3


def serve(ref: str, host: str = "127.0.0.1", port: int = 8000, link: str | None = None) -> int:
    """Load the app named by `ref`, run setup(), serve it; return the process exit status.

    3 means the app could not be loaded or its setup() raised (the traceback is printed).
    """
    toolkit.use_storage(Storage.from_url)  # apps write the platform's storage directly
    try:
        app = build_app(load_app(ref), link)
    except Exception:
        traceback.print_exc()
        return EXIT_SETUP_FAILED
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    server.run()
    return EXIT_SETUP_FAILED if app.state.setup_failed else 0
