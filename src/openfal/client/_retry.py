"""When and how long to retry (fal_client's policy, PROTOCOL.md §9.1, plus ``Retry-After``).

Retried: transport errors (a timeout only when the request carried no
``X-Fal-Request-Timeout``), HTTP 408/409/429, an ingress 502/503/504 (no
``x-fal-request-id``, "nginx" in the body) and any 502/503/504 that says ``Retry-After``.
Never a 504 with ``X-Fal-Request-Timeout-Type``. Up to 10 attempts; exponential backoff from
0.1 s, capped at 30 s, with ±50 % jitter; a ``Retry-After`` of up to 120 s wins over it.
"""

from __future__ import annotations

import email.utils
import random
import time

import httpx

MAX_ATTEMPTS = 10
BASE_DELAY = 0.1
MAX_DELAY = 30.0
MAX_RETRY_AFTER = 120.0
RETRY_STATUS = frozenset({408, 409, 429})
INGRESS_STATUS = frozenset({502, 503, 504})


def retryable_response(response: httpx.Response) -> bool:
    code = response.status_code
    if code == 504 and "x-fal-request-timeout-type" in response.headers:
        return False
    if code in RETRY_STATUS:
        return True
    if code in INGRESS_STATUS:
        if "retry-after" in response.headers:
            return True
        return "x-fal-request-id" not in response.headers and "nginx" in response.text
    return False


def retryable_error(exc: Exception, request: httpx.Request) -> bool:
    if isinstance(exc, httpx.TimeoutException):
        return "x-fal-request-timeout" not in request.headers
    return isinstance(exc, httpx.TransportError)


def backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
    return min(BASE_DELAY * 2.0 ** (attempt - 1), MAX_DELAY) * random.uniform(0.5, 1.5)


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` in seconds (delta-seconds or an HTTP date), capped; None if absent or
    unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, min(seconds, MAX_RETRY_AFTER))


def delay_for(attempt: int, response: httpx.Response | None) -> float:
    told = retry_after(response.headers.get("retry-after")) if response is not None else None
    return backoff(attempt) if told is None else told
