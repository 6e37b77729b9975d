"""``create_app``: wires the surfaces, middleware and error handlers. Nothing else."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route

from openfal.gateway.errors import (
    GatewayError,
    handle_gateway_error,
    handle_http_exception,
    handle_unexpected,
)
from openfal.gateway.middleware import HostRouting, RequestId
from openfal.gateway.registry import AppRegistry
from openfal.gateway.routes import meta, queue, run
from openfal.gateway.settings import GatewaySettings
from openfal.store import Store


def create_app(
    store: Store, registry: AppRegistry | None = None, settings: GatewaySettings | None = None
) -> Starlette:
    routes = [
        Route("/health", meta.health, methods=["GET"]),
        Route("/openapi.json", meta.openapi, methods=["GET"]),
        Route("/rest/openapi/queue/openapi.json", meta.endpoint_openapi, methods=["GET"]),
        Route("/rest/apps", meta.list_apps, methods=["GET"]),
        Route("/rest/runners", meta.list_runners, methods=["GET"]),
        Route("/queue/{path:path}", queue.submit, methods=["POST"]),
        Route("/queue/{path:path}", queue.get, methods=["GET"]),
        Route("/queue/{path:path}", queue.cancel, methods=["PUT"]),
        Route("/{path:path}", run.run, methods=["POST"]),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(RequestId), Middleware(HostRouting)],
        exception_handlers={
            GatewayError: handle_gateway_error,
            HTTPException: handle_http_exception,
            Exception: handle_unexpected,
        },
    )
    app.state.store = store
    app.state.registry = registry or AppRegistry(store)
    app.state.settings = settings or GatewaySettings()
    return app
