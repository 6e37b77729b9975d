"""Deliver one webhook attempt, decide when to retry, and refuse unsafe target URLs.

These are the pieces a delivery loop calls: ``check_webhook_url`` when a webhook URL is
submitted, ``deliver_once`` for each try (with a ``UrlGuard`` so that the address that
was vetted is the one connected to), and ``RetryPolicy.next_delay`` to schedule the
next try or give up. Every try yields an ``Attempt`` to record.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from openfal.urlguard import UrlGuard as AnyUrlGuard
from openfal.urlguard import UrlRefused, UrlTarget, UrlUnresolvable

DEFAULT_TIMEOUT = 15.0  # seconds per try, DNS and the whole exchange included


# --- retry schedule ------------------------------------------------------------------


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff between tries: ``first_delay * factor**(n-1)``, capped.

    With the defaults, the 9 waits between 10 tries are, in seconds,
    15, 30, 60, 120, 240, 480, 960, 1920, 3600 (the last capped from 3840):
    7425 s = 2 h 3 min 45 s of waiting, plus at most 10 x 15 s of tries, so the last
    try starts about 2 h 4 min after the first and ends by about 2 h 6.5 min.

    ``jitter`` (0 by default) spreads each wait by up to that fraction either way, so
    deliveries that failed together (a receiver was down) do not all return at once.
    """

    max_attempts: int = 10
    first_delay: float = 15.0
    factor: float = 2.0
    max_delay: float = 3600.0
    jitter: float = 0.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.first_delay < 0 or self.max_delay < 0:
            raise ValueError("delays must not be negative")
        if self.factor < 1:
            raise ValueError("factor must be at least 1")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")

    def next_delay(self, attempt: int) -> float | None:
        """Seconds to wait after try number ``attempt`` (1-based) failed; None: give up."""
        if attempt < 1:
            raise ValueError("attempt numbers start at 1")
        if attempt >= self.max_attempts:
            return None
        delay = self._base_delay(attempt)
        if self.jitter:
            # Not security-sensitive: this only spreads load.
            delay *= 1 + random.uniform(-self.jitter, self.jitter)
        return min(delay, self.max_delay)

    def _base_delay(self, attempt: int) -> float:
        # Compare before multiplying further: factor**n overflows for large n.
        delay = self.first_delay
        for _ in range(attempt - 1):
            delay *= self.factor
            if delay >= self.max_delay:
                return self.max_delay
        return min(delay, self.max_delay)

    def delays(self) -> list[float]:
        """The waits between tries, without jitter: ``max_attempts - 1`` of them."""
        return [self._base_delay(n) for n in range(1, self.max_attempts)]

    @property
    def total_delay(self) -> float:
        """Seconds of waiting from the first try to the last, without jitter."""
        return sum(self.delays())


# --- one try ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """The record of one delivery try.

    ``at`` is when it started (unix seconds) and ``duration`` how long it took (seconds).
    ``status_code`` is the receiver's answer, None when there was none, in which case
    ``error`` says why (timeout, connection refused, DNS failure...).
    """

    at: float
    status_code: int | None
    error: str | None
    duration: float

    @property
    def ok(self) -> bool:
        """Delivered: the receiver answered 2xx."""
        return self.status_code is not None and 200 <= self.status_code < 300

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def deliver_once(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float = DEFAULT_TIMEOUT,
    *,
    guard: UrlGuard | None = None,
) -> Attempt:
    """POST ``body`` with ``headers`` to ``url`` once and return what happened.

    Network failures do not raise: they come back as an ``Attempt`` with ``error``.
    ``timeout`` bounds the whole try. Redirects are not followed (a 3xx is a failed
    try), as a redirect could lead to an address the guard would refuse. The receiver's
    response body is not read.

    With ``guard``, the URL's host is resolved and vetted first and the connection goes
    to a vetted address (so a DNS answer that changes between check and connect cannot
    smuggle in a private address); a refused URL raises ``WebhookUrlRefused``, while a
    host that does not resolve is a failed try (DNS may recover).
    """
    at = time.time()
    started = time.monotonic()
    status_code: int | None = None
    error: str | None = None
    try:
        async with asyncio.timeout(timeout):
            if guard is None:
                status_code = await _post(client, httpx.URL(url), body, headers, timeout)
            else:
                target = await guard.check_async(url)
                status_code = await _post_pinned(client, target, body, headers, timeout)
    except WebhookUrlUnresolvable as exc:
        error = str(exc)
    except WebhookUrlRefused:
        raise
    except (TimeoutError, httpx.TimeoutException):
        error = f"timeout after {timeout:g}s"
    except Exception as exc:
        # The delivery loop must record the try and go on, whatever went wrong.
        error = _describe(exc)
    return Attempt(at, status_code, error, time.monotonic() - started)


async def _post(
    client: httpx.AsyncClient,
    url: httpx.URL,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float,
    extensions: dict[str, Any] | None = None,
) -> int:
    request = client.build_request(
        "POST", url, content=body, headers=headers, timeout=timeout, extensions=extensions
    )
    # Streamed and closed unread: a receiver's answer can be large, and we need its status.
    response = await client.send(request, stream=True, follow_redirects=False)
    await response.aclose()
    return response.status_code


async def _post_pinned(
    client: httpx.AsyncClient,
    target: UrlTarget,
    body: bytes,
    headers: Mapping[str, str],
    timeout: float,
) -> int:
    """POST to the vetted addresses in turn, keeping the URL's Host and TLS name."""
    pinned_headers = {
        **headers,
        "Host": target.url.netloc.decode("ascii"),
        # The pool is keyed by address: a kept-alive connection, verified for one TLS
        # name, must not be reused for another host that shares the address.
        "Connection": "close",
    }
    # TLS still names (and verifies the certificate of) the host, in its ASCII (IDNA) form.
    tls_name = target.url.raw_host.decode("ascii")
    extensions = {"sni_hostname": tls_name} if target.url.scheme == "https" else None
    last_error: httpx.ConnectError | None = None
    for address in target.addresses:
        url = target.url.copy_with(host=str(address))
        try:
            return await _post(client, url, body, pinned_headers, timeout, extensions)
        except httpx.ConnectError as exc:
            last_error = exc  # another address of the host may answer
    assert last_error is not None  # a WebhookTarget always has addresses
    raise last_error


def _describe(exc: Exception) -> str:
    detail = str(exc) or repr(exc)
    if isinstance(exc, httpx.ConnectError):
        return f"connection failed: {detail}"
    return f"{type(exc).__name__}: {detail}"


# --- URL guard: the neutral one (openfal.urlguard), with webhook wording -----------------


class WebhookUrlRefused(UrlRefused):
    """A webhook URL the platform will not call; the message names the reason."""

    label = "webhook URL"


class WebhookUrlUnresolvable(WebhookUrlRefused, UrlUnresolvable):
    """The URL's host did not resolve (now): refused, though it may work later."""


class UrlGuard(AnyUrlGuard):
    """:class:`openfal.urlguard.UrlGuard` raising the webhook errors."""

    refused_error = WebhookUrlRefused
    unresolvable_error = WebhookUrlUnresolvable


WebhookTarget = UrlTarget


def check_webhook_url(url: str, allow: Sequence[str] = ()) -> UrlTarget:
    """Vet ``url`` (see ``UrlGuard``); raises ``WebhookUrlRefused`` naming the reason.

    A host name is resolved with blocking DNS; in async code use
    ``check_webhook_url_async``.
    """
    return UrlGuard(allow).check(url)


async def check_webhook_url_async(url: str, allow: Sequence[str] = ()) -> UrlTarget:
    """``check_webhook_url`` resolving through the event loop (``loop.getaddrinfo``)."""
    return await UrlGuard(allow).check_async(url)
