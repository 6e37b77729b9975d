"""``openfal serve``, ``gateway``, ``worker`` and ``config``: flags to :class:`Settings`,
then hand over to :mod:`openfal.server`."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from openfal.server.settings import Settings, SettingsError, load_settings


def settings_from(args: argparse.Namespace) -> Settings:
    """The settings of a serving command: its given flags over env, file and defaults."""
    cli = {k: v for k, v in vars(args).items() if k in Settings.model_fields}
    try:
        return load_settings(cli, getattr(args, "config", None))
    except SettingsError as e:
        raise SystemExit(f"openfal {args.command}: {e}") from None


def run_serve(args: argparse.Namespace) -> int:
    from openfal.server import run

    run(settings_from(args))
    return 0


def run_gateway(args: argparse.Namespace) -> int:
    from openfal.server.gateway import run_gateway

    settings = settings_from(args)
    _check_shared(settings, "gateway")
    run_gateway(settings)
    return 0


def run_worker(args: argparse.Namespace) -> int:
    from openfal.server.worker import run_worker

    settings = settings_from(args)
    _check_shared(settings, "worker")
    run_worker(settings)
    return 0


def _check_shared(settings: Settings, command: str) -> None:
    try:
        settings.shared_store(command)
    except SettingsError as e:
        raise SystemExit(str(e)) from None


def show_config(args: argparse.Namespace) -> int:
    sys.stdout.write(as_toml(settings_from(args).shown()))
    return 0


def as_toml(values: dict[str, Any]) -> str:
    """Top-level TOML for flat values; unset ones become comments."""
    lines = []
    for name, value in values.items():
        if value is None:
            lines.append(f"# {name} =  (not set)")
        elif isinstance(value, float) and math.isinf(value):
            lines.append(f"{name} = inf")
        else:
            lines.append(f"{name} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"
