"""Options shared by the commands that serve (``serve``, ``gateway``, ``worker``).

Their parsers have ``argument_default=argparse.SUPPRESS``: a flag that is not given is
absent, so the environment, the ``--config`` file or the default of
:class:`openfal.server.Settings` applies (see ``cli/settings_cmd.py``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def add_listen_args(p: argparse.ArgumentParser, *, port: int) -> None:
    p.add_argument(
        "--host",
        help="address to listen on: 127.0.0.1 (default) accepts this machine only; 0.0.0.0 "
        "accepts every network (then API keys are required)",
        default=default_of(p, "127.0.0.1"),
    )
    p.add_argument(
        "--port",
        type=int,
        help=f"TCP port to listen on (default {port})",
        default=default_of(p, port),
    )


def add_settings_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="TOML file of settings (keys as printed by `openfal config`; default: "
        "$OPENFAL_CONFIG); flags and OPENFAL_* variables override it",
    )
    p.add_argument(
        "--log-level",
        choices=["critical", "error", "warning", "info", "debug", "trace"],
        help="log level (default info)",
    )
    p.add_argument(
        "--log-format",
        choices=["text", "json"],
        help="text (default) or json: one JSON object per line",
    )


def default_of(p: argparse.ArgumentParser, value: Any) -> Any:
    """``value``, unless ``p`` takes its defaults from the settings (then: absent)."""
    return argparse.SUPPRESS if p.argument_default == argparse.SUPPRESS else value


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
        metavar="N",
        help="requests per --rate-window a user may submit (default: unlimited; "
        "a key's own limit overrides it)",
    )
    g.add_argument(
        "--rate-window",
        type=float,
        metavar="SECONDS",
        help="the window of --rate-limit (default 60)",
    )
    g.add_argument(
        "--max-concurrent",
        type=int,
        metavar="N",
        help="queued + running requests a user may have (default: unlimited)",
    )


def _webhook_args(g: argparse._ArgumentGroup) -> None:
    g.add_argument(
        "--webhook-allow",
        action="append",
        metavar="HOST",
        help="a private host, address or network (10.0.0.0/8) webhooks may call (repeatable)",
    )
    g.add_argument(
        "--webhook-retry-base",
        type=float,
        metavar="SECONDS",
        help="wait before the 2nd try of a webhook, doubling for each next one (default 15)",
    )
    g.add_argument(
        "--webhook-max-attempts",
        type=int,
        metavar="N",
        help="tries of a webhook before giving up (default 10: ~2 h with the defaults)",
    )
    g.add_argument(
        "--webhook-timeout",
        type=float,
        metavar="SECONDS",
        help="seconds one webhook try may take (default 15)",
    )
