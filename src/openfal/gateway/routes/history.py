"""The history surface: ``GET /rest/requests`` (pages, newest first) and
``GET /rest/requests/{id}`` (one request in full). A user sees their own requests; an
ADMIN key (and dev mode) sees everyone's, and may narrow them with ``owner=``."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from openfal.gateway import history
from openfal.gateway.auth import may_see, principal_of
from openfal.gateway.errors import BadRequest, NotFound
from openfal.gateway.routes.common import store
from openfal.store.history import HistoryQuery


def _query(request: Request) -> HistoryQuery | None:
    """The caller's query, or None when the caller can own nothing (so sees nothing)."""
    params, t = request.query_params, time.time()
    principal = principal_of(request)
    if not principal.admin and principal.user is None:
        return None
    try:
        return HistoryQuery(
            app_id=params.get("app_id") or None,
            status=history.parse_status(params["status"]) if params.get("status") else None,
            owner=(params.get("owner") or None) if principal.admin else principal.user,
            since=history.parse_time("since", params["since"], t) if params.get("since") else None,
            until=history.parse_time("until", params["until"], t) if params.get("until") else None,
            before=history.decode_cursor(params["cursor"]) if params.get("cursor") else None,
            limit=history.parse_limit(params.get("limit", "50")),
        )
    except history.QueryError as e:
        raise BadRequest(str(e)) from None


async def list_requests(request: Request) -> Response:
    query = _query(request)
    if query is None:
        return JSONResponse({"items": [], "next_cursor": None})
    page = await store(request).history(query)
    return JSONResponse(
        {
            "items": [history.summary(rec) for rec in page.items],
            "next_cursor": history.encode_cursor(page.next),
        }
    )


async def get_request(request: Request) -> Response:
    request_id = request.path_params["request_id"]
    st = store(request)
    rec = await st.get(request_id)
    if rec is None or not may_see(request, rec.owner):
        raise NotFound(f"Request {request_id} not found")
    logs, events = await st.get_logs(rec.id), await st.get_events(rec.id)
    webhook = await st.get_webhook(rec.id)
    return JSONResponse(history.detail(rec, logs, events, webhook))
