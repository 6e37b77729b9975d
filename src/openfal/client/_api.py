"""The client API, written once for both drivers.

Each method builds a flow (:mod:`openfal.client._flows`) and hands it to the driver:
:class:`~openfal.client.SyncClient` carries it out blocking and answers its value;
:class:`~openfal.client.AsyncClient` answers an awaitable (or, for ``stream`` and
``iter_events``, an async iterator). Only carrying flows out and opening websockets are
written twice, in ``_sync.py`` and ``_async.py``.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict, Unpack

from openfal.client import _flows as flows
from openfal.client import _realtime as rt
from openfal.client import _upload as uploads
from openfal.client._base import BaseClient
from openfal.client._flows import DEFAULT_POLL_INTERVAL, AnyJSON, HandleURLs
from openfal.client._ops import Flow, just, then
from openfal.client._status import Status
from openfal.client._upload import Repository, StorageSettings

__all__ = ["ClientApi", "HandleApi", "WsOptions"]

Callback = Callable[[Any], Awaitable[None] | None]


class WsOptions(TypedDict, total=False):
    """Options of ``realtime`` and ``ws_connect``: ``use_jwt`` (default True: a short-lived
    token in the URL, else the key in the handshake), ``path`` (``/realtime`` for
    ``realtime``, none for ``ws_connect``), ``max_buffering`` (1..60),
    ``token_expiration`` (seconds)."""

    use_jwt: bool
    path: str
    max_buffering: int | None
    token_expiration: int


@dataclass(frozen=True)
class HandleApi(HandleURLs):
    """A queued request: poll it, wait for it, cancel it."""

    client: ClientApi = field(repr=False, compare=False)

    def status(self, *, with_logs: bool = False) -> Any:
        """Queued, InProgress or Completed; with logs so far when ``with_logs``."""
        return self.client._drive(flows.status(self.client._server(), self, with_logs=with_logs))

    def iter_events(
        self, *, with_logs: bool = False, interval: float = DEFAULT_POLL_INTERVAL
    ) -> Any:
        """Each status change until Completed (the status stream, else polling every
        ``interval`` seconds)."""
        watching = flows.watch(self.client._server(), self, with_logs=with_logs, interval=interval)
        return self.client._iterate(watching)

    def get(self, *, interval: float = DEFAULT_POLL_INTERVAL) -> Any:
        """Wait for completion and answer the result."""
        return self.client._drive(flows.get(self.client._server(), self, interval=interval))

    def cancel(self) -> Any:
        return self.client._drive(flows.cancel(self.client._server(), self))


class ClientApi(BaseClient):
    """fal_client's client API; a driver subclass supplies ``_drive``, ``_iterate`` and
    ``_handle_class``."""

    _handle_class: type[HandleApi] = HandleApi

    def _drive(self, flow: Flow[Any]) -> Any:
        raise NotImplementedError

    def _iterate(self, flow: Flow[Any]) -> Any:
        raise NotImplementedError

    def _handle(self, urls: HandleURLs) -> Any:
        return self._handle_class(
            urls.request_id, urls.response_url, urls.status_url, urls.cancel_url, self
        )

    def _ws_target(self, application: str, options: WsOptions) -> Flow[tuple[str, Any]]:
        """The websocket URL and handshake headers of ``application`` (a token first)."""
        server = self._server()
        use_jwt = options.get("use_jwt", True)
        expiration = options.get("token_expiration", rt.TOKEN_EXPIRATION)
        token = (yield from rt.token(server, application, expiration)) if use_jwt else None
        target = rt.url(
            server,
            application,
            token,
            path=options.get("path", ""),
            max_buffering=options.get("max_buffering"),
        )
        return target, rt.handshake_headers(server, use_jwt)

    # ------------------------------------------------------------------ realtime

    def realtime(
        self,
        application: str,
        *,
        encode_message: rt.Encoder | None = None,
        decode_message: rt.Decoder | None = None,
        **options: Unpack[WsOptions],
    ) -> Any:
        """A realtime session with the app, msgpack frames (a context manager: ``with``, or
        ``async with`` for the async client, answering a realtime connection)."""
        options.setdefault("path", "/realtime")
        return self._session(
            self.ws_connect(application, **options), encode_message, decode_message
        )

    def ws_connect(self, application: str, **options: Unpack[WsOptions]) -> Any:
        """The raw WebSocket to ``application[/path]`` (a context manager answering
        ``websockets``' connection)."""
        raise NotImplementedError

    def _session(self, ws: Any, encode: rt.Encoder | None, decode: rt.Decoder | None) -> Any:
        raise NotImplementedError

    # ------------------------------------------------------------------ queue and run

    def run(
        self,
        application: str,
        arguments: AnyJSON,
        *,
        method: str = "POST",
        path: str = "",
        timeout: float | None = None,
        start_timeout: float | None = None,
        hint: str | None = None,
        headers: Mapping[str, str] = {},
    ) -> Any:
        """Run the app and answer its output (``timeout``: client-side seconds, default none;
        ``start_timeout``: seconds the server may wait before it starts)."""
        return self._drive(
            flows.run(
                self._server(),
                application,
                arguments,
                method=method,
                path=path,
                timeout=timeout,
                start_timeout=start_timeout,
                hint=hint,
                headers=headers,
            )
        )

    def submit(
        self,
        application: str,
        arguments: AnyJSON,
        *,
        path: str = "",
        hint: str | None = None,
        webhook_url: str | None = None,
        priority: str | None = None,
        headers: Mapping[str, str] = {},
        start_timeout: float | None = None,
    ) -> Any:
        """Queue a request; answer its handle."""
        submitting = flows.submit(
            self._server(),
            application,
            arguments,
            path=path,
            hint=hint,
            webhook_url=webhook_url,
            priority=priority,
            headers=headers,
            start_timeout=start_timeout,
        )
        return self._drive(then(submitting, self._handle))

    def subscribe(
        self,
        application: str,
        arguments: AnyJSON,
        *,
        path: str = "",
        hint: str | None = None,
        with_logs: bool = False,
        interval: float = DEFAULT_POLL_INTERVAL,
        on_enqueue: Callback | None = None,
        on_queue_update: Callable[[Status], Awaitable[None] | None] | None = None,
        priority: str | None = None,
        headers: Mapping[str, str] = {},
        start_timeout: float | None = None,
        client_timeout: float | None = None,
        webhook_url: str | None = None,
    ) -> Any:
        """Submit, report status changes to ``on_queue_update`` (with the async client it
        may be a coroutine function), answer the result. ``client_timeout`` cancels the
        request and raises FalClientTimeoutError."""
        return self._drive(
            flows.subscribe(
                self._server(),
                application,
                arguments,
                path=path,
                hint=hint,
                with_logs=with_logs,
                interval=interval,
                on_enqueue=on_enqueue,
                on_queue_update=on_queue_update,
                priority=priority,
                headers=headers,
                start_timeout=start_timeout,
                client_timeout=client_timeout,
                webhook_url=webhook_url,
            )
        )

    def get_handle(self, application: str, request_id: str) -> Any:
        return self._drive(just(self._handle_of(application, request_id)))

    def _handle_of(self, application: str, request_id: str) -> HandleApi:
        handle: HandleApi = self._handle(flows.handle_urls(self._server(), application, request_id))
        return handle

    def status(self, application: str, request_id: str, *, with_logs: bool = False) -> Any:
        return self._handle_of(application, request_id).status(with_logs=with_logs)

    def result(self, application: str, request_id: str) -> Any:
        return self._handle_of(application, request_id).get()

    def cancel(self, application: str, request_id: str) -> Any:
        return self._handle_of(application, request_id).cancel()

    def stream(
        self,
        application: str,
        arguments: AnyJSON,
        *,
        path: str = "/stream",
        timeout: float | None = None,
        headers: Mapping[str, str] = {},
    ) -> Any:
        """Each event of a streaming endpoint; the last one is the final output."""
        streaming = flows.stream(
            self._server(), application, arguments, path=path, timeout=timeout, headers=headers
        )
        return self._iterate(streaming)

    # ------------------------------------------------------------------ files

    def upload(
        self,
        data: str | bytes,
        content_type: str,
        file_name: str | None = None,
        *,
        repository: Repository | None = None,
        fallback_repository: Repository | Sequence[Repository] | None = None,
        lifecycle: StorageSettings | None = None,
    ) -> Any:
        """Upload bytes; answer the file's URL."""
        source = data.encode() if isinstance(data, str) else bytes(data)
        return self._upload(
            source, content_type, file_name, repository, fallback_repository, lifecycle
        )

    def upload_file(
        self,
        path: str | os.PathLike[str],
        *,
        repository: Repository | None = None,
        fallback_repository: Repository | Sequence[Repository] | None = None,
        lifecycle: StorageSettings | None = None,
    ) -> Any:
        """Upload a local file (read part by part when large); answer its URL."""
        source = uploads.file_source(path)
        name = os.path.basename(path)
        content_type = uploads.guess_type(path)
        return self._upload(source, content_type, name, repository, fallback_repository, lifecycle)

    def upload_image(
        self,
        image: Any,
        format: str = "jpeg",
        *,
        repository: Repository | None = None,
        fallback_repository: Repository | Sequence[Repository] | None = None,
        lifecycle: StorageSettings | None = None,
    ) -> Any:
        """Upload a Pillow image as ``image/<format>``; answer its URL."""
        source = uploads.image_bytes(image, format)
        content_type = f"image/{format}"
        return self._upload(source, content_type, None, repository, fallback_repository, lifecycle)

    def _upload(
        self,
        source: Any,
        content_type: str,
        file_name: str | None,
        repository: Repository | None,
        fallback_repository: Repository | Sequence[Repository] | None,
        lifecycle: StorageSettings | None,
    ) -> Any:
        return self._drive(
            uploads.upload(
                self._server(),
                self._cdn_token,
                source,
                content_type,
                file_name,
                repository=repository,
                fallback_repository=fallback_repository,
                lifecycle=lifecycle,
                options=self._upload_options,
            )
        )
