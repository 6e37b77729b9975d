"""``openfal`` entry point: one parser per command, each delegating to a module."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from openfal.cli import call, cluster_cmds, inspect_cmds, keys_cmds
from openfal.cli.security_args import add_security_args, security_options
from openfal.logjson import ENV as LOG_FORMAT_ENV
from openfal.logjson import FORMATS

_EPILOG_SERVE = """examples:
  openfal serve                                   # built-in apps, SQLite under ./.openfal
  openfal serve --app tests/fixtures/apps/echo.py::Echo --port 9000
  openfal serve --store sqlite:////var/lib/openfal/db --data-dir /var/lib/openfal
"""


def _store_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        type=Path,
        default=Path(".openfal"),
        help="folder for the embedded store and files (default: ./.openfal)",
    )
    p.add_argument(
        "--store",
        dest="store_url",
        default=None,
        help="store URL: sqlite:///PATH, memory:// or redis://HOST:PORT/DB "
        "(default: sqlite under --data-dir)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="openfal", description="Self-hosted fal.ai-compatible inference platform."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "serve",
        help="gateway + worker in one process",
        epilog=_EPILOG_SERVE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    _store_args(p)
    p.add_argument(
        "--app",
        dest="apps",
        action="append",
        default=[],
        metavar="REF",
        help="an app to serve: FILE.py::Class or module:Class (repeatable)",
    )
    p.add_argument(
        "--no-builtins",
        dest="builtins",
        action="store_false",
        help="do not register the built-in apps",
    )
    p.add_argument(
        "--lease-ttl",
        type=float,
        default=30.0,
        help="seconds a worker holds a request without renewing (default 30)",
    )
    p.add_argument(
        "--cancel-grace",
        type=float,
        default=1.0,
        help="seconds a runner gets to stop a cancelled request before it is restarted (default 1)",
    )
    p.add_argument(
        "--retention",
        type=float,
        default=3600.0,
        help="seconds results are kept after completion (default 3600)",
    )
    p.add_argument(
        "--public-url",
        default=None,
        metavar="URL",
        help="base URL clients reach this server on, for the file URLs apps return "
        "(default: $OPENFAL_PUBLIC_URL, else http://HOST:PORT)",
    )
    p.add_argument(
        "--demo-weights",
        action="store_true",
        help="built-in model apps use small random-weight pipelines (noise), even where "
        "weights are configured",
    )
    p.add_argument(
        "--apps-config",
        type=Path,
        default=None,
        help="TOML file with the built-in apps' weights, limits and LLM backends "
        "(default: DATA_DIR/apps.toml when it exists)",
    )
    p.add_argument("--log-level", default="info")
    p.add_argument(
        "--log-format", choices=FORMATS, help="text (default) or json: one object a line"
    )
    add_security_args(p)

    p = sub.add_parser(
        "run",
        help="serve one app alone (like `fal run --local`)",
        epilog="example:\n  openfal run tests/fixtures/apps/echo.py::Echo "
        "--port 8080\n  curl -X POST localhost:8080/ -d "
        '\'{"message":"hi"}\' -H content-type:application/json',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("ref", help="FILE.py::Class or module:Class")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)

    apps = sub.add_parser("apps", help="registered apps").add_subparsers(
        dest="apps_command", required=True, metavar="ACTION"
    )
    p = apps.add_parser("list", help="list registered apps", epilog="example: openfal apps list")
    _store_args(p)

    reqs = sub.add_parser("requests", help="inspect and cancel requests").add_subparsers(
        dest="requests_command", required=True, metavar="ACTION"
    )
    p = reqs.add_parser(
        "list",
        help="newest requests first",
        epilog="example: openfal requests list --app openfal/echo --since 2h --json",
    )
    _store_args(p)
    p.add_argument("--app", dest="app_id")
    p.add_argument("--status", choices=["IN_QUEUE", "IN_PROGRESS", "COMPLETED"])
    p.add_argument("--owner", help="only this user's requests")
    p.add_argument("--since", help="created at or after: ISO 8601, epoch seconds or an age (2h)")
    p.add_argument("--until", help="created before: ISO 8601, epoch seconds or an age")
    p.add_argument("--cursor", help="the next page (printed after a full page)")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true", help="print {items, next_cursor} as JSON")
    for name, help_text in (
        ("show", "one request as JSON"),
        ("logs", "a request's logs"),
        ("cancel", "cancel a queued or running request"),
    ):
        p = reqs.add_parser(name, help=help_text, epilog=f"example: openfal requests {name} ID")
        _store_args(p)
        p.add_argument("request_id")
        if name == "logs":
            p.add_argument(
                "--follow",
                "-f",
                action="store_true",
                help="keep printing until the request completes",
            )
    call.add_parser(sub)
    keys_cmds.add_parsers(sub, _store_args)
    cluster_cmds.add_parsers(sub, _store_args)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "log_format", None):  # read where logging is set up
        os.environ[LOG_FORMAT_ENV] = args.log_format
    if args.command == "serve":
        from openfal.server import ServeConfig, run

        run(
            ServeConfig(
                host=args.host,
                port=args.port,
                data_dir=args.data_dir,
                store_url=args.store_url,
                apps=args.apps,
                builtins=args.builtins,
                lease_ttl=args.lease_ttl,
                cancel_grace=args.cancel_grace,
                retention=args.retention,
                log_level=args.log_level,
                demo_weights=args.demo_weights,
                apps_config=args.apps_config,
                public_url=args.public_url,
                **security_options(args),
            )
        )
        return 0
    if args.command == "call":
        return call.run(args)
    if args.command == "run":
        from openfal.runner import serve

        return serve(args.ref, host=args.host, port=args.port)
    if args.command == "keys":
        return keys_cmds.dispatch(args)
    if args.command in ("gateway", "worker", "runners", "workers"):
        return cluster_cmds.dispatch(args)
    return inspect_cmds.dispatch(args)


if __name__ == "__main__":
    sys.exit(main())
