"""Per-user limits on submissions: requests per window and concurrent (queued + running).

Both live in the store, so they hold across gateway processes; a key's own limits
override the server's. Over a limit: 429 ``{"detail": "Rate limit exceeded",
"retry_after": <seconds>}`` with ``Retry-After``.
"""

from __future__ import annotations

import math

from starlette.requests import HTTPConnection

from openfal.gateway.auth import auth_settings, principal_of
from openfal.gateway.errors import RateLimited
from openfal.gateway.ids import new_request_id
from openfal.store import Store

ANONYMOUS_BUCKET = "anonymous"  # dev mode: everyone is one user
# A concurrency slot frees when a request finishes, which cannot be predicted.
CONCURRENCY_RETRY_AFTER = 1


async def admit(conn: HTTPConnection, store: Store) -> str:
    """Check and take the caller's limits for one new request; returns its id."""
    request_id = new_request_id()
    principal = principal_of(conn)
    settings = auth_settings(conn)
    user = principal.user or ANONYMOUS_BUCKET
    concurrent = principal.max_concurrent or settings.max_concurrent
    if concurrent is not None and not await store.acquire_slot(user, request_id, concurrent):
        raise RateLimited(CONCURRENCY_RETRY_AFTER)
    per_window = principal.rate_limit or settings.rate_limit
    if per_window is not None:
        wait = await store.take_rate_token(f"user:{user}", per_window, settings.rate_window)
        if wait > 0:
            await release(conn, store, request_id)
            raise RateLimited(max(1, math.ceil(wait)))
    return request_id


async def release(conn: HTTPConnection, store: Store, request_id: str) -> None:
    """Give back the slot of a request that was not stored after all."""
    principal = principal_of(conn)
    if (principal.max_concurrent or auth_settings(conn).max_concurrent) is not None:
        await store.release_slot(principal.user or ANONYMOUS_BUCKET, request_id)
