"""Serve one App over HTTP with uvicorn until told to stop."""

from __future__ import annotations

import socket
import traceback

import uvicorn

from openfal import toolkit
from openfal.runner._app import build_app
from openfal.sdk import describe, load_app
from openfal.storage import Storage

__all__ = ["EXIT_SETUP_FAILED", "serve"]

EXIT_SETUP_FAILED = 3


class _Announcing(uvicorn.Server):
    """Prints ``ready`` once setup() is done and the port listens (``openfal run``)."""

    ready: str = ""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.ready:
            print(self.ready, flush=True)


def serve(
    ref: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    link: str | None = None,
    *,
    announce: bool = False,
) -> int:
    """Load the app named by `ref`, run setup(), serve it; return the process exit status.

    3 means the app could not be loaded or its setup() raised (the traceback is printed).
    ``announce``: print a line with the URL once it serves.
    """
    toolkit.use_storage(Storage.from_url)  # apps write the platform's storage directly
    try:
        cls = load_app(ref)
        app = build_app(cls, link)
    except Exception:
        traceback.print_exc()
        return EXIT_SETUP_FAILED
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    server = _Announcing(config)
    if announce:
        paths = ", ".join(f"POST /{p}" for p in describe(cls)["endpoints"])
        server.ready = f"openfal run: {ref} ready on http://{host}:{port} ({paths}; Ctrl-C stops)"
    server.run()
    return EXIT_SETUP_FAILED if app.state.setup_failed else 0
