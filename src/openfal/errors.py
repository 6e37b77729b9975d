"""The root of every error openfal's server side raises on purpose, and the whole tree.

Each class carries the HTTP ``status_code`` and ``error_type`` a client sees when it
crosses the gateway, so the gateway maps every one of them in one handler
(``openfal.gateway.errors.handle_openfal_error``); ``detail`` is the public message. The
tree (modules in brackets; a class marked ``+ValueError`` is also that builtin)::

    OpenfalError                          500 internal_error
    ├── GatewayError [gateway.errors]     what a route answers with
    │   ├── BadRequest                    400 bad_request
    │   ├── Unauthorized                  401 unauthorized
    │   │   └── InvalidToken [gateway.tokens]
    │   ├── Forbidden                     403 forbidden
    │   │   └── TokenNotForApp [gateway.tokens]
    │   ├── NotFound                      404
    │   ├── PayloadTooLarge               413 payload_too_large
    │   ├── RangeNotSatisfiable           416 range_not_satisfiable
    │   ├── ValidationFailed              422 (pydantic's detail list)
    │   ├── RateLimited                   429 rate_limited
    │   └── ServiceUnavailable            503 runner_scheduling_failure
    │       └── StorageUnavailable [gateway.routes.files]
    ├── StorageError [storage.errors]     file storage
    │   ├── MultipartError                400 bad_request
    │   ├── FileNotFound                  404
    │   ├── UploadTooLarge                413 payload_too_large
    │   └── InvalidRange +ValueError      416 range_not_satisfiable
    ├── UrlRefused +ValueError [urlguard] 400 url_refused: a private/loopback URL
    │   ├── UrlUnresolvable               its host does not resolve (now)
    │   └── WebhookUrlRefused [webhooks]  (worded for webhooks; + WebhookUrlUnresolvable)
    ├── InvalidKey +ValueError [filekeys] 400 bad_request: a file key that could escape
    ├── QueryError +ValueError [gateway.history]  400 bad_request: a request history filter
    ├── SettingsError +ValueError [server.settings]   a bad setting; stops the command
    ├── RunnerLost [worker.job]            a runner died under a request (it is retried)
    ├── RunnerStartError [worker.runner_process]  a runner did not start
    ├── RunnerProtocolError [worker.frames]  a runner broke the wire protocol
    ├── UploadFailed [toolkit]            a runner's upload through a gateway failed
    ├── DuplicateRequest [runner]         a request id the runner is already running
    ├── QueryError +ValueError [gateway.history]  a bad history query
    ├── deploy (openfal.deploy): SourceError +ValueError 400 [source], BuildError [envs],
    │   SecretError +ValueError 400 [secrets], RolloutFailed [rollout], AdminError [client]
    └── (app side, openfal.sdk) AppException (+ FieldException 422), RequestCancelled,
        AppDefinitionError, AppLoadError

The Python client (``openfal.client``) has its own root, ``FalClientError``, on purpose:
it runs where the server is not installed and mirrors ``fal_client``'s errors.
"""

from __future__ import annotations

from typing import Any

__all__ = ["OpenfalError"]


class OpenfalError(Exception):
    """Root of every error openfal raises on purpose."""

    status_code: int = 500
    error_type: str | None = "internal_error"
    headers: dict[str, str] = {}

    def body(self) -> dict[str, Any]:
        """The JSON answer when this crosses the gateway: ``detail`` (a leaf's own
        ``detail`` attribute, else the message) and ``error_type``."""
        body: dict[str, Any] = {"detail": getattr(self, "detail", None) or str(self)}
        if self.error_type:
            body["error_type"] = self.error_type
        return body
