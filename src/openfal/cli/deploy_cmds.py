"""``openfal deploy``, ``openfal apps …``, ``openfal secrets …``, ``openfal runners …``:
parse, then call a running server's admin API (``openfal.deploy.client``)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from openfal.deploy.client import AdminError, SyncServerlessClient
from openfal.deploy.source import SourceError

console = Console() if sys.stdout.isatty() else Console(width=220)

_EPILOG_DEPLOY = """examples:
  openfal deploy app.py::Figlet --app-name acme/figlet
  openfal deploy models/flux_app.py::Flux --dir models --strategy recreate --url http://gpu-box:8000
"""

SCALING_FLAGS = (
    ("--min-concurrency", "min_concurrency", int),
    ("--max-concurrency", "max_concurrency", int),
    ("--keep-alive", "keep_alive", float),
    ("--max-multiplexing", "max_multiplexing", int),
    ("--concurrency-buffer", "concurrency_buffer", int),
    ("--scaling-delay", "scaling_delay", float),
    ("--request-timeout", "request_timeout", float),
    ("--startup-timeout", "startup_timeout", float),
)


def _remote(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--url", default=None, help="the server (default: $OPENFAL_URL, else :8000)")
    p.add_argument("--key", default=None, help="an ADMIN key (default: $FAL_KEY)")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    return p


def _action(group: Any, name: str, help_text: str, example: str) -> argparse.ArgumentParser:
    return _remote(group.add_parser(name, help=help_text, epilog=f"example: {example}"))


def add_parsers(sub: Any) -> None:
    p = _remote(
        sub.add_parser(
            "deploy",
            help="deploy an app to a running server (a new revision)",
            epilog=_EPILOG_DEPLOY,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
    )
    p.add_argument("ref", metavar="FILE.py::Class")
    p.add_argument("--app-name", default=None, help="owner/alias (default: the app's own name)")
    p.add_argument("--strategy", choices=["rolling", "recreate"], default="rolling")
    p.add_argument("--dir", type=Path, default=None, help="send this folder (holding FILE.py)")

    apps = sub.add_parser("apps", help="deployed and registered apps").add_subparsers(
        dest="apps_command", required=True, metavar="ACTION"
    )
    _action(apps, "list", "apps, their revision and scaling", "openfal apps list")
    p = _action(apps, "list-rev", "an app's revisions", "openfal apps list-rev acme/figlet")
    p.add_argument("app_id")
    p = _action(apps, "set-rev", "serve another revision", "openfal apps set-rev acme/figlet REV")
    p.add_argument("app_id")
    p.add_argument("revision")
    p = _action(apps, "delete", "delete a deployed app", "openfal apps delete acme/figlet")
    p.add_argument("app_id")
    p = _action(apps, "logs", "build output", "openfal apps logs acme/figlet")
    p.add_argument("app_id")
    p.add_argument("--revision", default=None, help="default: the newest revision")
    p = _action(
        apps, "scale", "change scaling live", "openfal apps scale acme/figlet --min-concurrency 1"
    )
    p.add_argument("app_id")
    for flag, dest, kind in SCALING_FLAGS:
        p.add_argument(flag, dest=dest, type=kind, default=None)

    secrets = sub.add_parser("secrets", help="secrets runners get as env vars").add_subparsers(
        dest="secrets_command", required=True, metavar="ACTION"
    )
    p = _action(secrets, "set", "set a secret", "openfal secrets set HF_TOKEN=hf_abc")
    p.add_argument("name", metavar="NAME[=VALUE]")
    p.add_argument("value", nargs="?", default=None)
    _action(secrets, "list", "names and dates (never values)", "openfal secrets list")
    p = _action(secrets, "unset", "delete a secret", "openfal secrets unset HF_TOKEN")
    p.add_argument("name")

    runners = sub.add_parser("runners", help="runner processes").add_subparsers(
        dest="runners_command", required=True, metavar="ACTION"
    )
    p = _action(runners, "list", "live runners", "openfal runners list acme/figlet")
    p.add_argument("app", nargs="?", default=None)
    p.add_argument("--app", dest="app_id", default=None, help=argparse.SUPPRESS)
    p.add_argument("--store", dest="store_url", default=None, help="read this store directly")
    p = _action(runners, "logs", "what a runner printed", "openfal runners logs RUNNER_ID")
    p.add_argument("runner_id")
    p = _action(runners, "kill", "kill a runner", "openfal runners kill RUNNER_ID")
    p.add_argument("runner_id")


def dispatch(args: argparse.Namespace) -> int:
    if args.command == "runners" and args.runners_command == "list" and args.store_url:
        from openfal.cli import cluster_cmds

        args.app_id = args.app_id or args.app
        return asyncio.run(cluster_cmds.listing(args))
    action = getattr(args, f"{args.command}_command", None)
    handler = HANDLERS[f"{args.command}.{action}" if action else args.command]
    try:
        with SyncServerlessClient(args.url, args.key) as client:
            return handler(client, args)
    except AdminError as e:
        print(f"error: {e.detail} (HTTP {e.status})", file=sys.stderr)
        return 1
    except SourceError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def _print(args: argparse.Namespace, data: Any, table: Callable[[], Table] | None = None) -> int:
    if args.json or table is None:
        print(json.dumps(data, indent=None if args.json else 2))
    else:
        console.print(table())
    return 0


# ---------------------------------------------------------------------- deploy


def deploy(client: SyncServerlessClient, args: argparse.Namespace) -> int:
    rev = client.submit_revision(
        args.ref, app_name=args.app_name, strategy=args.strategy, folder=args.dir
    )
    say = (lambda _: None) if args.json else print
    say(f"revision {rev['revision']} of {rev['app_id']}: building")
    done = client.apps.wait(rev["app_id"], rev["revision"], on_log=lambda line: say(f"  {line}"))
    result = {**done, "urls": rev["urls"]}
    result.pop("logs", None)
    if args.json:
        print(json.dumps(result))
    elif done["state"] == "FAILED":
        print(f"revision {rev['revision']} FAILED: {done['error']}", file=sys.stderr)
    else:
        print(f"revision {rev['revision']} of {rev['app_id']} is serving")
        for name, url in rev["urls"].items():
            print(f"  {name:5} {url}")
    return 1 if done["state"] == "FAILED" else 0


# ---------------------------------------------------------------------- apps


def apps_list(client: SyncServerlessClient, args: argparse.Namespace) -> int:
    apps = client.apps.list()

    def table() -> Table:
        t = Table("app id", "revision", "endpoints", "min", "max", "mux", "keep alive", "source")
        for a in apps:
            s = a["settings"]
            t.add_row(
                a["app_id"],
                a["revision"] or "-",
                " ".join(a["endpoints"]),
                str(s.get("min_concurrency", "-")),
                str(s.get("max_concurrency", "-")),
                str(s.get("max_multiplexing", "-")),
                str(s.get("keep_alive", "-")),
                a["source"] or "-",
            )
        return t

    return _print(args, apps, table)


def apps_list_rev(client: SyncServerlessClient, args: argparse.Namespace) -> int:
    app = client.apps.get(args.app_id)

    def table() -> Table:
        t = Table("revision", "state", "created", "environment", "requirements", "")
        for r in app["revisions"]:
            mark = "current" if r["revision"] == app["revision"] else ""
            if r["revision"] == app["live_revision"] and not mark:
                mark = "serving"
            t.add_row(
                r["revision"],
                r["state"],
                time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(r["created_at"])),
                r["env_key"] or "server",
                " ".join(r["requirements"]),
                mark,
            )
        return t

    return _print(args, app["revisions"], table)


def apps_set_rev(client: SyncServerlessClient, args: argparse.Namespace) -> int:
    client.apps.set_rev(args.app_id, args.revision)
    done = client.apps.wait(args.app_id, args.revision)
    done.pop("logs", None)
    if args.json:
        print(json.dumps(done))
    else:
        print(f"{args.app_id}: revision {args.revision} {_state(done)}")
    return 1 if done["state"] == "FAILED" else 0


def _state(rev: dict[str, Any]) -> str:
    return f"FAILED: {rev['error']}" if rev["state"] == "FAILED" else "is serving"


def apps_delete(client: SyncServerlessClient, args: argparse.Namespace) -> int:
    result = client.apps.delete(args.app_id)
    return _print(args, result) if args.json else _say(f"{args.app_id} deleted")


def apps_logs(client: SyncServerlessClient, args: argparse.Namespace) -> int:
    result = client.apps.logs(args.app_id, args.revision)
    if args.json:
        return _print(args, result)
    print(f"revision {result['revision']}:")
    for line in result["logs"]:
        print(line)
    return 0


def apps_scale(client: SyncServerlessClient, args: argparse.Namespace) -> int:
    changes = {dest: getattr(args, dest) for _, dest, _ in SCALING_FLAGS}
    changes = {k: v for k, v in changes.items() if v is not None}
    if not changes:
        print("error: give at least one of " + ", ".join(f for f, _, _ in SCALING_FLAGS))
        return 2
    dep = client.apps.scale(args.app_id, **changes)
    if args.json:
        return _print(args, dep)
    pairs = ", ".join(f"{k}={v}" for k, v in sorted(dep["scaling"].items()))
    return _say(f"{args.app_id}: {pairs}")


def _say(text: str) -> int:
    print(text)
    return 0


# ---------------------------------------------------------------------- secrets


def secrets_set(client: SyncServerlessClient, args: argparse.Namespace) -> int:
    name, value = args.name, args.value
    if value is None:
        name, sep, value = args.name.partition("=")
        if not sep:
            print("error: give NAME VALUE or NAME=VALUE", file=sys.stderr)
            return 2
    rec = client.secrets.set(name, value)
    return _print(args, rec) if args.json else _say(f"secret {name} set")


def secrets_list(client: SyncServerlessClient, args: argparse.Namespace) -> int:
    found = client.secrets.list()

    def table() -> Table:
        t = Table("name", "created", "updated")
        for s in found:
            t.add_row(s["name"], _date(s["created_at"]), _date(s["updated_at"]))
        return t

    return _print(args, found, table)


def _date(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t))


def secrets_unset(client: SyncServerlessClient, args: argparse.Namespace) -> int:
    result = client.secrets.unset(args.name)
    return _print(args, result) if args.json else _say(f"secret {args.name} unset")


# ---------------------------------------------------------------------- runners


def runners_list(client: SyncServerlessClient, args: argparse.Namespace) -> int:
    found = client.runners.list(args.app or args.app_id)

    def table() -> Table:
        t = Table("runner", "app", "state", "in flight", "host", "uptime", "worker")
        for r in found:
            t.add_row(
                r["runner_id"],
                r["app_id"],
                r["state"],
                f"{r['in_flight']}/{r['max_multiplexing']}",
                r["host"],
                f"{r['uptime']:.0f}s",
                r["worker_id"],
            )
        return t

    return _print(args, found, table)


def runners_logs(client: SyncServerlessClient, args: argparse.Namespace) -> int:
    result = client.runners.logs(args.runner_id)
    if args.json:
        return _print(args, result)
    for line in result["logs"]:
        print(line)
    return 0


def runners_kill(client: SyncServerlessClient, args: argparse.Namespace) -> int:
    result = client.runners.kill(args.runner_id)
    return _print(args, result) if args.json else _say(f"runner {args.runner_id} killed")


HANDLERS: dict[str, Callable[[SyncServerlessClient, argparse.Namespace], int]] = {
    "deploy": deploy,
    "apps.list": apps_list,
    "apps.list-rev": apps_list_rev,
    "apps.set-rev": apps_set_rev,
    "apps.delete": apps_delete,
    "apps.logs": apps_logs,
    "apps.scale": apps_scale,
    "secrets.set": secrets_set,
    "secrets.list": secrets_list,
    "secrets.unset": secrets_unset,
    "runners.list": runners_list,
    "runners.logs": runners_logs,
    "runners.kill": runners_kill,
}
