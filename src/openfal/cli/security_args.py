"""Options for keys, limits and webhooks, shared by the commands that serve requests."""

from __future__ import annotations

import argparse
from typing import Any


def add_security_args(p: argparse.ArgumentParser, *, limits: bool = True) -> None:
    """The webhook options, and (``limits``, for processes that take requests) the limits."""
    g = p.add_argument_group("limits and webhooks" if limits else "webhooks")
    if limits:
        _limit_args(g)
    _webhook_args(g)


def _limit_args(g: argparse._ArgumentGroup) -> None:
    g.add_argument(
        "--rate-limit",
        type=int,
        default=None,
        metavar="N",
        help="requests per --rate-window a user may submit (default: unlimited; "
        "a key's own limit overrides it)",
    )
    g.add_argument(
        "--rate-window",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="the window of --rate-limit (default 60)",
    )
    g.add_argument(
        "--max-concurrent",
        type=int,
        default=None,
        metavar="N",
        help="queued + running requests a user may have (default: unlimited)",
    )


def _webhook_args(g: argparse._ArgumentGroup) -> None:
    g.add_argument(
        "--webhook-allow",
        action="append",
        default=[],
        metavar="HOST",
        help="a private host, address or network (10.0.0.0/8) webhooks may call (repeatable)",
    )
    g.add_argument(
        "--webhook-retry-base",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="wait before the 2nd try of a webhook, doubling for each next one (default 15)",
    )
    g.add_argument(
        "--webhook-max-attempts",
        type=int,
        default=10,
        metavar="N",
        help="tries of a webhook before giving up (default 10: ~2 h with the defaults)",
    )
    g.add_argument(
        "--webhook-timeout",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="seconds one webhook try may take (default 15)",
    )


def security_options(args: argparse.Namespace) -> dict[str, Any]:
    """The parsed options, named as ``ServeConfig`` fields."""
    return {
        "rate_limit": getattr(args, "rate_limit", None),
        "rate_window": getattr(args, "rate_window", 60.0),
        "max_concurrent": getattr(args, "max_concurrent", None),
        "webhook_allow": list(args.webhook_allow),
        "webhook_retry_base": args.webhook_retry_base,
        "webhook_max_attempts": args.webhook_max_attempts,
        "webhook_timeout": args.webhook_timeout,
    }
