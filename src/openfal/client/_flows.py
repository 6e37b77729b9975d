"""Every queue and run operation, written once as a flow (see :mod:`._ops`)."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from openfal.client._exceptions import (
    FalClientConnectionError,
    FalClientError,
    FalClientHTTPError,
    FalClientStreamError,
    FalClientTimeoutError,
)
from openfal.client._ops import (
    NO_DEADLINE,
    Call,
    CloseStream,
    Deadline,
    DeadlineExceeded,
    Emit,
    Flow,
    OpenStream,
    ReadLine,
    Send,
    relay,
    sleep,
)
from openfal.client._retry import MAX_ATTEMPTS, delay_for, retryable_error, retryable_response
from openfal.client._server import Server, priority_header, timeout_header, timeouts
from openfal.client._sse import SSEDecoder
from openfal.client._status import Completed, Log, Status, parse_status

POLL_TIMEOUT = 120.0  # seconds for one status, result or cancel call
DEFAULT_POLL_INTERVAL = 0.1
STREAM_IDLE_TIMEOUT = 60.0  # a status stream quieter than this (keep-alives every 15 s) is dead

AnyJSON = dict[str, Any]


@dataclass(frozen=True)
class HandleURLs:
    """Where one queued request lives (the URLs the server answered the submit with)."""

    request_id: str
    response_url: str = field(repr=False)
    status_url: str = field(repr=False)
    cancel_url: str = field(repr=False)


def handle_urls(server: Server, application: str, request_id: str) -> HandleURLs:
    base = server.request_url(application, request_id)
    return HandleURLs(request_id, base, f"{base}/status", f"{base}/cancel")


def _transport_error(request: httpx.Request, exc: Exception) -> FalClientError:
    if isinstance(exc, httpx.TimeoutException):
        read = request.extensions.get("timeout", {}).get("read")
        return FalClientTimeoutError(read if read is not None else 0.0)
    return FalClientConnectionError(str(request.url), exc)


def call(
    request: httpx.Request,
    *,
    timeout: float | None,
    deadline: Deadline = NO_DEADLINE,
    retry: bool = True,
) -> Flow[httpx.Response]:
    """Send ``request`` until it succeeds or is not worth retrying; non-2xx raises."""
    attempt = 0
    while True:
        attempt += 1
        request.extensions["timeout"] = timeouts(deadline.cap(timeout))
        response: httpx.Response | None = None
        try:
            response = yield Send(request)
        except httpx.TransportError as exc:
            deadline.remaining()
            if not (retry and attempt < MAX_ATTEMPTS and retryable_error(exc, request)):
                raise _transport_error(request, exc) from exc
        else:
            if response.is_success:
                return response
            if not (retry and attempt < MAX_ATTEMPTS and retryable_response(response)):
                raise FalClientHTTPError.from_response(response)
        yield from sleep(delay_for(attempt, response), deadline)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise FalClientError(
            f"{response.request.method} {response.request.url} answered {response.status_code} "
            f"without JSON: {response.text[:200]!r}"
        ) from None


def _extra_headers(
    headers: Mapping[str, str],
    *,
    hint: str | None = None,
    start_timeout: float | None = None,
    priority: str | None = None,
) -> dict[str, str]:
    extra = dict(headers)
    if hint is not None:
        extra["x-fal-runner-hint"] = hint
    if start_timeout is not None:
        extra["x-fal-request-timeout"] = timeout_header(start_timeout)
    if priority is not None:
        extra["x-fal-queue-priority"] = priority_header(priority)
    return extra


# ---------------------------------------------------------------------------- run and submit


def run(
    server: Server,
    application: str,
    arguments: AnyJSON,
    *,
    method: str = "POST",
    path: str = "",
    timeout: float | None = None,
    start_timeout: float | None = None,
    hint: str | None = None,
    headers: Mapping[str, str],
) -> Flow[Any]:
    extra = _extra_headers(headers, hint=hint, start_timeout=start_timeout)
    url = server.run_url(application, path)
    if method.upper() == "GET":
        params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in arguments.items()}
        request = server.request("GET", url, params=params, headers=extra)
    else:
        request = server.request(method, url, json_body=arguments, headers=extra)
    response = yield from call(request, timeout=timeout)
    return _json(response)


def submit(
    server: Server,
    application: str,
    arguments: AnyJSON,
    *,
    path: str = "",
    hint: str | None = None,
    webhook_url: str | None = None,
    priority: str | None = None,
    headers: Mapping[str, str],
    start_timeout: float | None = None,
    deadline: Deadline = NO_DEADLINE,
) -> Flow[HandleURLs]:
    extra = _extra_headers(headers, hint=hint, start_timeout=start_timeout, priority=priority)
    params = {"fal_webhook": webhook_url} if webhook_url is not None else None
    request = server.request(
        "POST",
        server.queue_url(application, path),
        json_body=arguments,
        params=params,
        headers=extra,
    )
    response = yield from call(request, timeout=server.default_timeout, deadline=deadline)
    data = _json(response)
    try:
        return HandleURLs(
            data["request_id"], data["response_url"], data["status_url"], data["cancel_url"]
        )
    except (KeyError, TypeError):
        raise FalClientError(f"Submit answer lacks the request id and URLs: {data!r}") from None


# ---------------------------------------------------------------------------- status


def status(
    server: Server, handle: HandleURLs, *, with_logs: bool, deadline: Deadline = NO_DEADLINE
) -> Flow[Status]:
    params = {"logs": "1" if with_logs else "0"}
    request = server.request("GET", handle.status_url, params=params)
    response = yield from call(request, timeout=POLL_TIMEOUT, deadline=deadline)
    return parse_status(_json(response))


def poll(
    server: Server,
    handle: HandleURLs,
    *,
    with_logs: bool,
    interval: float,
    deadline: Deadline = NO_DEADLINE,
) -> Flow[Completed]:
    """Emit a status every ``interval`` seconds until it is :class:`Completed`."""
    while True:
        current = yield from status(server, handle, with_logs=with_logs, deadline=deadline)
        yield Emit(current)
        if isinstance(current, Completed):
            return current
        yield from sleep(interval, deadline)


def watch(
    server: Server,
    handle: HandleURLs,
    *,
    with_logs: bool,
    interval: float = DEFAULT_POLL_INTERVAL,
    deadline: Deadline = NO_DEADLINE,
) -> Flow[Completed]:
    """Emit each status change until :class:`Completed`: from the SSE status stream when the
    server offers one, by polling otherwise (or once the stream breaks)."""
    done = yield from _watch_stream(server, handle, with_logs=with_logs, deadline=deadline)
    yield CloseStream()
    if done is not None:
        return done
    return (
        yield from poll(server, handle, with_logs=with_logs, interval=interval, deadline=deadline)
    )


def _watch_stream(
    server: Server, handle: HandleURLs, *, with_logs: bool, deadline: Deadline
) -> Flow[Completed | None]:
    """The status stream; None when there is none, or it ended before ``COMPLETED``."""
    request = server.request(
        "GET",
        handle.status_url + "/stream",
        params={"logs": "1" if with_logs else "0"},
        headers={"accept": "text/event-stream"},
        timeout=deadline.cap(STREAM_IDLE_TIMEOUT),
    )
    try:
        response = yield OpenStream(request)
    except httpx.TransportError:
        deadline.remaining()
        return None
    if response.status_code != 200 or "text/event-stream" not in response.headers.get(
        "content-type", ""
    ):
        return None
    logs: list[Log] = []
    decoder = SSEDecoder()
    previous: Status | None = None
    while True:
        try:
            line = yield ReadLine(deadline.remaining())
        except (httpx.TransportError, TimeoutError):
            deadline.remaining()
            return None
        if line is None:
            return None
        data = decoder.feed(line)
        if data is None:
            continue
        try:
            body = json.loads(data)
            if isinstance(body, dict) and isinstance(body.get("logs"), list):
                logs.extend(body["logs"])
            current = parse_status(body, logs if with_logs else None)
        except ValueError:
            return None
        if current == previous:  # an event with nothing new for this caller
            continue
        previous = current
        # outside the try: an error from the caller's callback must not look like a bad stream
        yield Emit(current)
        if isinstance(current, Completed):
            return current


def result(server: Server, handle: HandleURLs, *, deadline: Deadline = NO_DEADLINE) -> Flow[Any]:
    request = server.request("GET", handle.response_url)
    response = yield from call(request, timeout=POLL_TIMEOUT, deadline=deadline)
    return _json(response)


def get(
    server: Server,
    handle: HandleURLs,
    *,
    interval: float = DEFAULT_POLL_INTERVAL,
    deadline: Deadline = NO_DEADLINE,
) -> Flow[Any]:
    """Wait for completion, then the result (a failed request raises its HTTP error)."""
    watching = watch(server, handle, with_logs=False, interval=interval, deadline=deadline)
    yield from relay(watching, None)
    return (yield from result(server, handle, deadline=deadline))


def cancel(server: Server, handle: HandleURLs) -> Flow[None]:
    request = server.request("PUT", handle.cancel_url)
    yield from call(request, timeout=POLL_TIMEOUT)


def subscribe(
    server: Server,
    application: str,
    arguments: AnyJSON,
    *,
    path: str = "",
    hint: str | None = None,
    with_logs: bool = False,
    interval: float = DEFAULT_POLL_INTERVAL,
    on_enqueue: Callable[[str], Any] | None = None,
    on_queue_update: Callable[[Status], Any] | None = None,
    priority: str | None = None,
    headers: Mapping[str, str],
    start_timeout: float | None = None,
    client_timeout: float | None = None,
    webhook_url: str | None = None,
) -> Flow[Any]:
    """Submit, report each status change to ``on_queue_update``, answer the result.

    ``client_timeout`` bounds the whole call: when it runs out the request is cancelled and
    :class:`FalClientTimeoutError` raised. It is also the default ``start_timeout``.
    """
    if client_timeout is not None:
        if start_timeout is None:
            start_timeout = client_timeout
        elif start_timeout > client_timeout:
            warnings.warn(
                f"start_timeout ({start_timeout}s) is larger than client_timeout "
                f"({client_timeout}s): the client gives up first",
                UserWarning,
                stacklevel=4,
            )
    deadline = Deadline.after(client_timeout)
    handle: HandleURLs | None = None
    try:
        handle = yield from submit(
            server,
            application,
            arguments,
            path=path,
            hint=hint,
            webhook_url=webhook_url,
            priority=priority,
            headers=headers,
            start_timeout=start_timeout,
            deadline=deadline,
        )
        if on_enqueue is not None:
            yield Call(on_enqueue, (handle.request_id,))
        watching = watch(server, handle, with_logs=with_logs, interval=interval, deadline=deadline)
        yield from relay(watching, on_queue_update)
        return (yield from result(server, handle, deadline=deadline))
    except DeadlineExceeded:
        request_id = handle.request_id if handle is not None else None
        if handle is not None:
            try:
                yield from cancel(server, handle)
            except FalClientError:
                pass
        assert client_timeout is not None
        raise FalClientTimeoutError(client_timeout, request_id) from None


# ---------------------------------------------------------------------------- stream


def stream(
    server: Server,
    application: str,
    arguments: AnyJSON,
    *,
    path: str = "/stream",
    timeout: float | None = None,
    headers: Mapping[str, str],
) -> Flow[None]:
    """Emit each event of a streaming endpoint (``POST /{app}/stream``) until it closes."""
    extra = {**headers, "accept": "text/event-stream", "cache-control": "no-store"}
    request = server.request(
        "POST",
        server.run_url(application, path),
        json_body=arguments,
        headers=extra,
        timeout=timeout,
    )
    try:
        response = yield OpenStream(request)
    except httpx.TransportError as exc:
        raise _transport_error(request, exc) from exc
    if not response.is_success:
        raise FalClientHTTPError.from_response(response)
    if "text/event-stream" not in response.headers.get("content-type", ""):
        raise FalClientStreamError(
            f"{request.url} answered {response.headers.get('content-type')!r}, "
            "not text/event-stream: is this a streaming endpoint?"
        )
    decoder = SSEDecoder()
    while True:
        try:
            line = yield ReadLine()
        except httpx.TransportError as exc:
            raise _transport_error(request, exc) from exc
        if line is None:
            return
        data = decoder.feed(line)
        if data is None:
            continue
        try:
            event = json.loads(data)
        except ValueError:
            raise FalClientStreamError(f"Stream event is not JSON: {data[:200]!r}") from None
        yield Emit(event)
