"""The run surface: ``POST /{app_id}[/path]`` answers with the output (PROTOCOL.md §4).

A direct run is a queued request at high priority that the caller waits for, so it shares
fairness, timeouts, logs and crash handling with the queue.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from openfal.gateway.errors import GatewayError
from openfal.gateway.ids import EndpointRef, parse_endpoint
from openfal.gateway.routes.common import accept, result_response, settings, store
from openfal.store import RequestRecord


async def run(request: Request) -> Response:
    return await run_endpoint(request, parse_endpoint(request.path_params["path"]))


async def run_endpoint(request: Request, ref: EndpointRef) -> Response:
    rec = await accept(request, ref, mode="run")
    request.scope["openfal.request_id"] = rec.id
    done = await wait_done(request, rec)
    return result_response(done)


async def wait_done(request: Request, rec: RequestRecord) -> RequestRecord:
    """Wait for completion; cancel the request if the caller goes away."""
    st = store(request)
    loop = asyncio.get_running_loop()
    limit = settings(request).run_timeout
    deadline = loop.time() + limit if limit else None
    while True:
        try:
            done = await st.wait_done(rec.id, 1.0 if deadline is None else _left(loop, deadline))
        except LookupError:
            raise GatewayError("Request vanished", headers={"x-fal-request-id": rec.id}) from None
        if done is not None:
            return done
        if deadline is not None and loop.time() >= deadline:
            await st.cancel(rec.id)
            raise GatewayError(
                f"Request did not finish within {limit:g}s",
                status_code=504,
                error_type="request_timeout",
                headers={"x-fal-request-id": rec.id},
            )
        if await request.is_disconnected():
            await st.cancel(rec.id)
            raise GatewayError(
                "Client disconnected",
                status_code=499,
                error_type="client_disconnected",
                headers={"x-fal-request-id": rec.id},
            )


def _left(loop: asyncio.AbstractEventLoop, deadline: float) -> float:
    """Seconds to the deadline, at most one (the disconnect check's period)."""
    return max(0.0, min(1.0, deadline - loop.time()))
