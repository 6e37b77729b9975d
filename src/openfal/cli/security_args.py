"""Options for keys, limits and webhooks, shared by the commands that serve requests."""

from __future__ import annotations

import argparse
from typing import Any


def add_security_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("limits and webhooks")
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
        "rate_limit": args.rate_limit,
        "rate_window": args.rate_window,
        "max_concurrent": args.max_concurrent,
        "webhook_allow": list(args.webhook_allow),
        "webhook_retry_base": args.webhook_retry_base,
        "webhook_max_attempts": args.webhook_max_attempts,
        "webhook_timeout": args.webhook_timeout,
    }
