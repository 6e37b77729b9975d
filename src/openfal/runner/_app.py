"""`build_app`: wire a Runner into a FastAPI app. Wiring only; behaviour lives elsewhere."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.exceptions import HTTPException

from openfal.runner import _realtime, _routes
from openfal.runner._capture import capture_output
from openfal.runner._link import serve_link
from openfal.runner._openapi import install_openapi
from openfal.runner._runner import Runner
from openfal.sdk import App

__all__ = ["build_app"]


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # setup() runs here, so uvicorn accepts connections only once the app is ready.
    runner: Runner = app.state.runner
    with capture_output():
        try:
            await runner.setup()
        except BaseException:
            # Re-raised: the server prints the traceback and refuses to start.
            app.state.setup_failed = True
            raise
        # the app and its models live as long as the runner: keep them out of every
        # garbage collection (a pipeline is many objects; a full collection walks them all)
        gc.freeze()
        link = app.state.link_path
        server = await serve_link(runner, link) if link else None
        try:
            yield
        finally:
            if server is not None:
                server.close()
            await runner.teardown()


def build_app(cls: type[App], link: str | None = None) -> FastAPI:
    """A FastAPI app serving `cls` per the runner protocol; setup() runs in its lifespan.

    With ``link`` (a Unix socket path), the worker link listens there too, once setup()
    succeeded (before the first healthy answer)."""
    runner = Runner(cls)
    app = FastAPI(
        title=cls.app_id(),
        version=str(cls.version or "0.0.0"),
        lifespan=_lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.runner = runner
    app.state.setup_failed = False
    app.state.link_path = link
    app.add_api_route("/health", _routes.health, methods=["GET"], include_in_schema=False)
    for path, found in runner.endpoints.items():
        app.add_api_route(
            found.url_path,
            _routes.endpoint_handler(path),
            methods=["POST"],
            name=found.method_name,
        )
        cancel_path = f"{found.url_path.rstrip('/')}/cancel"
        app.add_api_route(cancel_path, _routes.cancel, methods=["POST"], include_in_schema=False)
    for path, found in runner.websockets.items():
        handler = _realtime.realtime_handler if found.realtime else _realtime.raw_handler
        app.add_api_websocket_route(found.url_path, handler(path), name=found.method_name)
    app.add_exception_handler(HTTPException, _routes.not_found)
    install_openapi(app, list(runner.endpoints.values()))
    return app
