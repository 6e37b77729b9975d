"""``openfal`` entry point: one parser per command, each delegating to a module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from openfal.cli import call, cluster_cmds, deploy_cmds, inspect_cmds, keys_cmds
from openfal.cli.security_args import (
    add_listen_args,
    add_security_args,
    add_settings_args,
    default_of,
)

_EPILOG_SERVE = """examples:
  openfal serve                                   # built-in apps, SQLite under ./.openfal
  openfal serve --app examples/steps.py::Steps --port 9000
  openfal serve --app my_app.py::MyApp --demo-weights --no-builtins
  openfal serve --store sqlite:////var/lib/openfal/db --data-dir /var/lib/openfal
  openfal serve --config openfal.toml             # settings from a file (see openfal config)
"""

_EPILOG_CONFIG = """Prints every setting as a TOML file that --config accepts: flags first, then
OPENFAL_* environment variables, then the --config file, then defaults.

examples:
  openfal config
  OPENFAL_PORT=9000 openfal config --config openfal.toml --lease-ttl 10
  openfal config > openfal.toml   # then edit, and: openfal serve --config openfal.toml
"""


def _store_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        type=Path,
        help="folder for the embedded store and files (default: ./.openfal)",
        default=default_of(p, Path(".openfal")),
    )
    p.add_argument(
        "--store",
        dest="store_url",
        default=default_of(p, None),
        help="store URL: sqlite:///PATH, memory:// or redis://HOST:PORT/DB "
        "(default: sqlite under --data-dir)",
    )


def _serve_args(p: argparse.ArgumentParser) -> None:
    add_listen_args(p, port=8000)
    _store_args(p)
    p.add_argument(
        "--app",
        dest="apps",
        action="append",
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
        help="seconds a worker holds a request without renewing (default 30)",
    )
    p.add_argument(
        "--cancel-grace",
        type=float,
        help="seconds a runner gets to stop a cancelled request before it is restarted; an app "
        "that reports progress may finish its step while /health answers (default 1)",
    )
    p.add_argument(
        "--retention",
        type=float,
        help="seconds results are kept after completion (default 3600)",
    )
    p.add_argument(
        "--public-url",
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
        help="TOML file with the built-in apps' weights, limits and LLM backends "
        "(default: DATA_DIR/apps.toml when it exists)",
    )
    add_settings_args(p)
    add_security_args(p)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="openfal",
        description="Self-hosted fal.ai-compatible inference platform.",
        epilog="examples:\n  openfal serve\n  openfal call openfal/echo message=hi\n"
        "  openfal COMMAND --help   (every command has examples)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for name, help_text, epilog in (
        ("serve", "gateway + worker in one process", _EPILOG_SERVE),
        ("config", "print the settings `openfal serve` would run with", _EPILOG_CONFIG),
    ):
        p = sub.add_parser(
            name,
            help=help_text,
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            argument_default=argparse.SUPPRESS,  # unset flags leave env/file/defaults alone
        )
        _serve_args(p)

    p = sub.add_parser(
        "run",
        help="serve one app alone (like `fal run --local`)",
        epilog="example:\n  openfal run tests/fixtures/apps/echo.py::Echo "
        "--port 8080\n  curl -X POST localhost:8080/ -d "
        '\'{"message":"hi"}\' -H content-type:application/json',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("ref", help="FILE.py::Class or module:Class")
    add_listen_args(p, port=8080)

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
    deploy_cmds.add_parsers(sub)
    _group_examples(sub)
    return parser


_GROUP_EXAMPLES = {
    "apps": ["openfal apps list", "openfal apps scale acme/x --min-concurrency 1"],
    "secrets": ["openfal secrets set HF_TOKEN=hf_abc", "openfal secrets list"],
    "requests": ["openfal requests list --limit 5", "openfal requests logs ID -f"],
    "keys": ["openfal keys create --scope ADMIN --user me", "openfal keys list"],
    "runners": [
        "openfal runners list acme/x",
        "openfal runners list --store redis://10.0.0.5:6379/0",
    ],
    "workers": ["openfal workers list --store redis://10.0.0.5:6379/0"],
}


def _group_examples(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """A command made of actions shows an example in its ``--help`` too: the one above,
    else its actions' own examples."""
    for name, parser in sub.choices.items():
        if parser.epilog is not None:
            continue
        lines = _GROUP_EXAMPLES.get(name, [])
        if not lines:
            lines = [ex for action in _actions(parser) if (ex := _example_of(action.epilog))]
        if lines:
            parser.epilog = "examples:\n  " + "\n  ".join(lines)
            parser.formatter_class = argparse.RawDescriptionHelpFormatter


def _actions(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return [p for a in subs for p in a.choices.values()]


def _example_of(epilog: str | None) -> str | None:
    """The first example line of an epilog (``example: X`` or an ``examples:`` block)."""
    for line in (epilog or "").splitlines():
        line = line.strip()
        if line.startswith("example: "):
            return line.removeprefix("example: ")
        if line and not line.startswith("example"):
            return line
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in ("serve", "config"):
        from openfal.cli.settings_cmd import run_serve, show_config

        return run_serve(args) if args.command == "serve" else show_config(args)
    if args.command == "call":
        return call.run(args)
    if args.command == "run":
        from openfal.runner import serve

        return serve(args.ref, host=args.host, port=args.port, announce=True)
    if args.command == "keys":
        return keys_cmds.dispatch(args)
    if args.command in ("deploy", "apps", "secrets", "runners"):
        return deploy_cmds.dispatch(args)
    if args.command in ("gateway", "worker", "workers"):
        return cluster_cmds.dispatch(args)
    return inspect_cmds.dispatch(args)


if __name__ == "__main__":
    sys.exit(main())
