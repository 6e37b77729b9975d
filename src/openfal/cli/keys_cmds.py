"""``openfal keys create|list|revoke``: API keys, straight in the store (works while the
server runs: SQLite in WAL mode allows it, and Redis is shared anyway)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from rich.console import Console
from rich.table import Table

from openfal.store import KeyScope, Store

console = Console(stderr=True)

_EPILOG_CREATE = """examples:
  openfal keys create --scope ADMIN --description "my laptop"
  openfal keys create --user alice --rate-limit 60 --max-concurrent 4
  export $(openfal keys create --user ci)     # sets FAL_KEY in this shell
"""


def add_parsers(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    store_args: Callable[[argparse.ArgumentParser], None],
) -> None:
    keys = sub.add_parser("keys", help="API keys").add_subparsers(
        dest="keys_command", required=True, metavar="ACTION"
    )
    p = keys.add_parser(
        "create",
        help="create a key and print FAL_KEY=<id>:<secret> (shown only once)",
        epilog=_EPILOG_CREATE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    store_args(p)
    p.add_argument("--user", default="default", help="who the key belongs to (default: default)")
    p.add_argument("--scope", choices=[s.value for s in KeyScope], default=KeyScope.API.value)
    p.add_argument("--description", default="")
    p.add_argument(
        "--rate-limit",
        type=int,
        default=None,
        metavar="N",
        help="requests per rate window for this key (overrides the server's)",
    )
    p.add_argument(
        "--max-concurrent",
        type=int,
        default=None,
        metavar="N",
        help="queued + running requests for this key (overrides the server's)",
    )
    p = keys.add_parser(
        "list", help="every key, without secrets", epilog="example: openfal keys list"
    )
    store_args(p)
    p.add_argument("--user", default=None)
    p = keys.add_parser(
        "revoke", help="revoke a key (refused at once)", epilog="example: openfal keys revoke 3f2c…"
    )
    store_args(p)
    p.add_argument("key_id")


def dispatch(args: argparse.Namespace) -> int:
    handlers: dict[str, Callable[[Store, argparse.Namespace], Awaitable[int]]] = {
        "create": create,
        "list": list_keys,
        "revoke": revoke,
    }
    return asyncio.run(_with_store(args, handlers[args.keys_command]))


async def _with_store(
    args: argparse.Namespace, fn: Callable[[Store, argparse.Namespace], Awaitable[int]]
) -> int:
    store = Store.from_url(args.store_url or f"sqlite:///{args.data_dir / 'openfal.db'}")
    await store.open()
    try:
        return await fn(store, args)
    finally:
        await store.close()


async def create(store: Store, args: argparse.Namespace) -> int:
    try:
        key, secret = await store.create_key(
            args.user,
            KeyScope(args.scope),
            description=args.description,
            rate_limit=args.rate_limit,
            max_concurrent=args.max_concurrent,
        )
    except ValueError as e:
        console.print(f"[red]{e}[/red]")
        return 2
    sys.stdout.write(f"FAL_KEY={key.id}:{secret}\n")
    console.print(
        f"key {key.id} ({key.scope.value}) for user {key.user!r}: "
        "keep the secret now, it is not stored and cannot be shown again"
    )
    return 0


def _time(t: float | None) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S") if t else "-"


async def list_keys(store: Store, args: argparse.Namespace) -> int:
    table = Table(
        "key id",
        "user",
        "scope",
        "description",
        "created (UTC)",
        "revoked (UTC)",
        "rate limit",
        "max concurrent",
    )
    for key in await store.list_keys(user=args.user):
        table.add_row(
            key.id,
            key.user,
            key.scope.value,
            key.description,
            _time(key.created_at),
            _time(key.revoked_at),
            str(key.rate_limit or "-"),
            str(key.max_concurrent or "-"),
        )
    Console().print(table)
    return 0


async def revoke(store: Store, args: argparse.Namespace) -> int:
    if await store.revoke_key(args.key_id):
        console.print(f"key {args.key_id} revoked")
        return 0
    console.print(f"[red]key {args.key_id} not found or already revoked[/red]")
    return 1
