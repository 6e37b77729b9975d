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
from openfal.gateway.routes import files, meta, queue, run
from openfal.gateway.routes import storage as rest_storage
from openfal.gateway.settings import GatewaySettings
from openfal.storage import Storage
from openfal.store import Store


def create_app(
    store: Store,
    registry: AppRegistry | None = None,
    settings: GatewaySettings | None = None,
    storage: Storage | None = None,
) -> Starlette:
    routes = [
        Route("/health", meta.health, methods=["GET"]),
        Route("/openapi.json", meta.openapi, methods=["GET"]),
        Route("/rest/openapi/queue/openapi.json", meta.endpoint_openapi, methods=["GET"]),
        Route("/rest/apps", meta.list_apps, methods=["GET"]),
        Route("/rest/runners", meta.list_runners, methods=["GET"]),
        Route("/files/{key:path}", files.serve_file, methods=["GET", "HEAD"]),
        Route("/files/{key:path}", files.cdn_multipart_part, methods=["PUT"]),
        Route("/files/{key:path}", files.cdn_multipart_complete, methods=["POST"]),
        Route("/cdn/files/upload", files.cdn_upload, methods=["POST"]),
        Route("/cdn/files/upload/multipart", files.cdn_multipart_create, methods=["POST"]),
        Route("/cdn/files/{key:path}", files.serve_file, methods=["GET", "HEAD"]),
        Route("/cdn/files/{key:path}", files.cdn_multipart_part, methods=["PUT"]),
        Route("/cdn/files/{key:path}", files.cdn_multipart_complete, methods=["POST"]),
        Route("/rest/storage/upload", rest_storage.upload, methods=["POST"]),
        Route("/rest/storage/upload/initiate", rest_storage.initiate, methods=["POST"]),
        Route(
            "/rest/storage/upload/initiate-multipart",
            rest_storage.initiate_multipart,
            methods=["POST"],
        ),
        Route("/rest/storage/upload/put/{key:path}", rest_storage.put, methods=["PUT"]),
        Route("/rest/storage/upload/put/{key:path}", rest_storage.complete, methods=["POST"]),
        Route("/rest/storage/auth/token", rest_storage.auth_token, methods=["POST"]),
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
    app.state.storage = storage
    app.state.uploads = files.UploadConfig()  # serve() swaps in a persistent secret
    return app
