"""``openfal apps …`` and ``openfal requests …``: read and change the store directly, so they
work while the server runs (SQLite in WAL mode allows it)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Column, Table

from openfal.gateway import history
from openfal.store import RequestRecord, Store
from openfal.store.history import HistoryQuery

# ids are what these tables are for: never squeeze them into a pipe's 80 columns
console = Console() if sys.stdout.isatty() else Console(width=220)


def dispatch(args: argparse.Namespace) -> int:
    handlers: dict[str, Callable[[Store, argparse.Namespace], Awaitable[int]]] = {
        "requests.list": requests_list,
        "requests.show": requests_show,
        "requests.logs": requests_logs,
        "requests.cancel": requests_cancel,
    }
    action = getattr(args, "requests_command", None)
    return asyncio.run(_with_store(args, handlers[f"{args.command}.{action}"]))


async def _with_store(
    args: argparse.Namespace, fn: Callable[[Store, argparse.Namespace], Awaitable[int]]
) -> int:
    url = args.store_url or f"sqlite:///{args.data_dir / 'openfal.db'}"
    store = Store.from_url(url)
    await store.open()
    try:
        return await fn(store, args)
    finally:
        await store.close()


def _time(t: float | None) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S") if t else "-"


async def requests_list(store: Store, args: argparse.Namespace) -> int:
    try:
        query = _history_query(args)
    except history.QueryError as e:
        console.print(f"[red]{e}[/red]")
        return 2
    page = await store.history(query)
    if args.json:
        items = [history.summary(rec) for rec in page.items]
        shown = {"items": items, "next_cursor": history.encode_cursor(page.next)}
        sys.stdout.write(json.dumps(shown, indent=2) + "\n")
        return 0
    table = Table(
        Column("request id", no_wrap=True, min_width=36),
        "app",
        "path",
        "mode",
        "status",
        "code",
        Column("created (UTC)", no_wrap=True),
        "attempts",
        "error type",
        "owner",
    )
    for rec in page.items:
        table.add_row(
            rec.id,
            rec.app_id,
            "/" + rec.path,
            rec.mode,
            rec.status.value,
            str(rec.status_code or ""),
            _time(rec.created_at),
            str(rec.attempts),
            rec.error_type or "",
            rec.owner or "-",
        )
    console.print(table)
    if page.next is not None:
        console.print(f"more: --cursor {history.encode_cursor(page.next)}")
    return 0


def _history_query(args: argparse.Namespace) -> HistoryQuery:
    t = time.time()
    return HistoryQuery(
        app_id=args.app_id,
        status=history.parse_status(args.status) if args.status else None,
        owner=args.owner,
        since=history.parse_time("--since", args.since, t) if args.since else None,
        until=history.parse_time("--until", args.until, t) if args.until else None,
        before=history.decode_cursor(args.cursor) if args.cursor else None,
        limit=args.limit,
    )


def record_json(rec: RequestRecord) -> dict[str, Any]:
    def body(raw: bytes | None) -> Any:
        if raw is None:
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw.decode(errors="replace")

    return {
        "request_id": rec.id,
        "app_id": rec.app_id,
        "path": "/" + rec.path,
        "mode": rec.mode,
        "status": rec.status.value,
        "priority": rec.priority,
        "owner": rec.owner,
        "attempts": rec.attempts,
        "worker_id": rec.worker_id,
        "created_at": _time(rec.created_at),
        "started_at": _time(rec.started_at),
        "completed_at": _time(rec.completed_at),
        "hint": rec.hint,
        "webhook_url": rec.webhook_url,
        "cancel_requested": rec.cancel_requested,
        "progress": rec.progress,
        "status_code": rec.status_code,
        "error": rec.error,
        "error_type": rec.error_type,
        "metrics": rec.metrics,
        "input": body(rec.input),
        "result": body(rec.result),
    }


async def _get(store: Store, request_id: str) -> RequestRecord | None:
    rec = await store.get(request_id)
    if rec is None:
        console.print(f"[red]request {request_id} not found[/red]")
    return rec


async def requests_show(store: Store, args: argparse.Namespace) -> int:
    rec = await _get(store, args.request_id)
    if rec is None:
        return 1
    shown = record_json(rec)
    webhook = await store.get_webhook(rec.id)
    if webhook is not None:  # the delivery and every try so far
        shown["webhook"] = webhook.public()
    events = await store.get_events(rec.id)
    if events:  # the partial outputs of a streaming request, in order (JSON, as relayed)
        shown["events"] = [json.loads(e) for e in events]
    sys.stdout.write(json.dumps(shown, indent=2) + "\n")
    return 0


async def requests_logs(store: Store, args: argparse.Namespace) -> int:
    rec = await _get(store, args.request_id)
    if rec is None:
        return 1
    seen = 0
    while True:
        for entry in await store.get_logs(rec.id, since=seen):
            seen += 1
            sys.stdout.write(f"{entry.timestamp} {entry.level:<6} {entry.message}\n")
        sys.stdout.flush()
        if not args.follow or rec.is_done:
            return 0
        await store.wait_for_change(rec.id, 0.5)
        rec = await store.get(rec.id) or rec


async def requests_cancel(store: Store, args: argparse.Namespace) -> int:
    outcome = await store.cancel(args.request_id)
    console.print(f"{args.request_id}: {outcome.value}")
    return 0 if outcome.value in ("CANCELLED", "CANCELLATION_REQUESTED") else 1
