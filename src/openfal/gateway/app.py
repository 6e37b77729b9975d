"""``create_app``: wires the surfaces, middleware and error handlers. Nothing else."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Mount, Route, WebSocketRoute

from openfal.deploy import routes as deploy_routes
from openfal.errors import OpenfalError
from openfal.gateway.auth import AuthSettings
from openfal.gateway.broker import RealtimeBroker
from openfal.gateway.edge import Edge
from openfal.gateway.errors import (
    handle_http_exception,
    handle_openfal_error,
    handle_unexpected,
)
from openfal.gateway.registry import AppRegistry
from openfal.gateway.routes import (
    files,
    history,
    keys,
    meta,
    playground,
    proxy,
    queue,
    realtime,
    run,
    stream,
    tokens,
)
from openfal.gateway.routes import storage as rest_storage
from openfal.gateway.settings import GatewaySettings
from openfal.gateway.webhooks import WebhookSettings
from openfal.metrics import scrape
from openfal.metrics.store_timing import instrument
from openfal.storage import Storage
from openfal.store import Store


def create_app(
    store: Store,
    registry: AppRegistry | None = None,
    settings: GatewaySettings | None = None,
    storage: Storage | None = None,
    *,
    broker: RealtimeBroker | None = None,
    uploads: files.UploadConfig | None = None,
    auth: AuthSettings | None = None,
    webhooks: WebhookSettings | None = None,
) -> Starlette:
    """The gateway over ``store``; what is not given gets a default fit for tests (no
    realtime runners, a random upload secret, no keys needed, no webhook signing key).
    ``openfal.server.build_gateway`` gives everything."""
    settings = settings or GatewaySettings()
    routes = [
        Route("/health", meta.health, methods=["GET"]),
        Route("/metrics", scrape.metrics, methods=["GET"]),
        Route("/api/fal/proxy", proxy.fal_proxy, methods=["GET", "POST", "PUT"]),
        Route("/openapi.json", meta.openapi, methods=["GET"]),
        Route("/rest/openapi/queue/openapi.json", meta.endpoint_openapi, methods=["GET"]),
        *deploy_routes.ROUTES,  # /rest/apps, /rest/secrets, /rest/runners/{id}
        Route("/rest/runners", meta.list_runners, methods=["GET"]),
        Route("/", playground.index, methods=["GET"]),
        Mount("/ui", app=playground.static_files(), name="ui"),
        Route("/rest/catalog", playground.catalog, methods=["GET"]),
        Route("/rest/queues", playground.queues, methods=["GET"]),
        Route("/rest/whoami", playground.whoami, methods=["GET"]),
        Route("/rest/requests", history.list_requests, methods=["GET"]),
        Route("/rest/requests/{request_id}", history.get_request, methods=["GET"]),
        Route("/rest/keys", keys.list_keys, methods=["GET"]),
        Route("/rest/keys", keys.create_key, methods=["POST"]),
        Route("/rest/keys/{key_id}", keys.revoke_key, methods=["DELETE"]),
        Route("/.well-known/jwks.json", keys.jwks_document, methods=["GET"]),
        Route("/rest/.well-known/jwks.json", keys.jwks_document, methods=["GET"]),
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
        Route("/rest/tokens/", tokens.create_token, methods=["POST"]),
        Route("/rest/tokens", tokens.create_token, methods=["POST"]),
        Route("/queue/{path:path}", queue.submit, methods=["POST"]),
        Route("/queue/{path:path}", queue.get, methods=["GET"]),
        Route("/queue/{path:path}", queue.cancel, methods=["PUT"]),
        Route("/{path:path}/stream", stream.stream, methods=["POST"]),
        Route("/{path:path}", run.run, methods=["POST"]),
        WebSocketRoute("/{path:path}", realtime.relay),
    ]
    app = Starlette(
        routes=routes,
        # CORS, request id, host routing, authentication, and the hot routes: one layer
        middleware=[Middleware(Edge, origins=settings.cors_origins)],
        exception_handlers={
            OpenfalError: handle_openfal_error,
            HTTPException: handle_http_exception,
            Exception: handle_unexpected,
        },
    )
    app.state.store = instrument(store)
    app.state.registry = registry or AppRegistry(store)
    app.state.settings = settings
    app.state.storage = storage
    app.state.secret_box = None  # serve and gateway set the secrets key (openfal.deploy)
    app.state.broker = broker
    app.state.uploads = uploads or files.UploadConfig()
    app.state.auth = auth or AuthSettings()
    app.state.webhooks = webhooks or WebhookSettings()
    return app
