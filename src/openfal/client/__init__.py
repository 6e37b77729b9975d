"""A Python client for openfal with fal_client's API.

Point it at a server with ``OPENFAL_URL`` (default ``http://127.0.0.1:8000``) or
``SyncClient(base_url=..., key=...)``; the key comes from ``FAL_KEY`` (or ``FAL_KEY_ID`` and
``FAL_KEY_SECRET``) when not given::

    import openfal.client as fal_client

    handle = fal_client.submit("openfal/echo", arguments={"message": "hi"})
    print(handle.get())

The module-level functions use a shared :class:`SyncClient` / :class:`AsyncClient` that read
the environment at each call. To point the *official* ``fal_client`` at an openfal server,
see :func:`openfal.compat.use_server`.
"""

from __future__ import annotations

from openfal.client._async import AsyncClient, AsyncRequestHandle
from openfal.client._exceptions import (
    FalClientConnectionError,
    FalClientError,
    FalClientHTTPError,
    FalClientStreamError,
    FalClientTimeoutError,
)
from openfal.client._realtime import AsyncRealtimeConnection, RealtimeConnection, RealtimeError
from openfal.client._status import Completed, InProgress, Queued, Status
from openfal.client._sync import SyncClient, SyncRequestHandle
from openfal.client._upload import (
    ObjectExpiration,
    StorageACL,
    StorageACLDecision,
    StorageACLRule,
    StorageSettings,
    encode,
    encode_file,
    encode_image,
)

__all__ = [
    "AsyncClient",
    "AsyncRealtimeConnection",
    "AsyncRequestHandle",
    "Completed",
    "FalClientConnectionError",
    "FalClientError",
    "FalClientHTTPError",
    "FalClientStreamError",
    "FalClientTimeoutError",
    "InProgress",
    "ObjectExpiration",
    "Queued",
    "RealtimeConnection",
    "RealtimeError",
    "Status",
    "StorageACL",
    "StorageACLDecision",
    "StorageACLRule",
    "StorageSettings",
    "SyncClient",
    "SyncRequestHandle",
    "async_client",
    "cancel",
    "cancel_async",
    "encode",
    "encode_file",
    "encode_image",
    "get_handle",
    "get_handle_async",
    "realtime",
    "realtime_async",
    "result",
    "result_async",
    "run",
    "run_async",
    "status",
    "status_async",
    "stream",
    "stream_async",
    "submit",
    "submit_async",
    "subscribe",
    "subscribe_async",
    "sync_client",
    "upload",
    "upload_async",
    "upload_file",
    "upload_file_async",
    "upload_image",
    "upload_image_async",
    "ws_connect",
    "ws_connect_async",
]

sync_client = SyncClient()
run = sync_client.run
submit = sync_client.submit
subscribe = sync_client.subscribe
status = sync_client.status
result = sync_client.result
cancel = sync_client.cancel
get_handle = sync_client.get_handle
stream = sync_client.stream
realtime = sync_client.realtime
ws_connect = sync_client.ws_connect
upload = sync_client.upload
upload_file = sync_client.upload_file
upload_image = sync_client.upload_image

async_client = AsyncClient()
run_async = async_client.run
submit_async = async_client.submit
subscribe_async = async_client.subscribe
status_async = async_client.status
result_async = async_client.result
cancel_async = async_client.cancel
get_handle_async = async_client.get_handle
stream_async = async_client.stream
realtime_async = async_client.realtime
ws_connect_async = async_client.ws_connect
upload_async = async_client.upload
upload_file_async = async_client.upload_file
upload_image_async = async_client.upload_image
