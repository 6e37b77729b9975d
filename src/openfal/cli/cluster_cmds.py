"""``openfal gateway``, ``openfal worker``, ``openfal runners list`` and ``openfal workers
list``: parse, then hand over to ``openfal.cluster`` or read the store."""

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

from openfal.cli.security_args import add_listen_args, add_security_args, add_settings_args
from openfal.store import Store

# ids and URLs are what these tables are for: never squeeze them into a pipe's 80 columns
console = Console() if sys.stdout.isatty() else Console(width=220)

_EPILOG_GATEWAY = """examples:
  openfal gateway --store redis://10.0.0.5:6379/0 --host 0.0.0.0 --port 8000
  openfal gateway --store redis://10.0.0.5:6379/0 --storage s3://media/openfal
"""

_EPILOG_WORKER = """examples:
  openfal worker --store redis://10.0.0.5:6379/0 --app /srv/apps/flux.py::Flux --gpus 0,1
  openfal worker --store redis://10.0.0.5:6379/0   # serves every registered app it has code for
"""


def _shared_store(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--store",
        dest="store_url",
        help="the store every gateway and worker shares: redis://[:PASSWORD@]HOST:PORT/DB "
        "(required; or $OPENFAL_STORE_URL)",
    )
    p.add_argument("--retention", type=float, help="seconds results are kept (default 3600)")
    add_settings_args(p)


def _gpus(value: str) -> list[str]:
    gpus = [g.strip() for g in value.split(",") if g.strip()]
    if not gpus and value.strip():
        raise argparse.ArgumentTypeError(f"invalid --gpus {value!r}: use e.g. 0,1")
    return gpus


def add_parsers(sub: Any, store_args: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser(
        "gateway",
        help="the HTTP API alone, on a shared store (many machines)",
        epilog=_EPILOG_GATEWAY,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,
    )
    _shared_store(p)
    add_listen_args(p, port=8000)
    p.add_argument(
        "--data-dir",
        type=Path,
        help="folder for uploaded files when --storage is not given (default: ./.openfal)",
    )
    p.add_argument(
        "--storage",
        dest="storage_url",
        help="file storage every gateway shares: s3://BUCKET/PREFIX or file:///SHARED/DIR "
        "(default: $OPENFAL_STORAGE_URL, else files under --data-dir)",
    )
    p.add_argument(
        "--public-url",
        metavar="URL",
        help="base URL clients reach the gateways on (the load balancer), for file URLs "
        "(default: $OPENFAL_PUBLIC_URL, else http://HOST:PORT)",
    )
    p.add_argument(
        "--no-load-apps",
        dest="load_apps",
        action="store_false",
        help="never import app code here (input is then validated by the runners)",
    )
    add_security_args(p)

    p = sub.add_parser(
        "worker",
        help="runners and dispatch for one host, on a shared store (many machines)",
        epilog=_EPILOG_WORKER,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        argument_default=argparse.SUPPRESS,
    )
    _shared_store(p)
    p.add_argument(
        "--app",
        dest="apps",
        action="append",
        metavar="REF",
        help="register and serve an app: FILE.py::Class or module:Class (repeatable)",
    )
    p.add_argument(
        "--no-builtins", dest="builtins", action="store_false", help="do not register built-ins"
    )
    p.add_argument(
        "--only-listed",
        action="store_true",
        help="serve only the --app apps, not every registered app whose code is here",
    )
    p.add_argument(
        "--gpus",
        type=_gpus,
        help="GPU ids this worker hands to runners (CUDA_VISIBLE_DEVICES), e.g. 0,1",
    )
    p.add_argument(
        "--gateway-url",
        dest="public_url",
        metavar="URL",
        help="the gateways' public URL (the load balancer): output file URLs start with it, "
        "and runners upload their files through it unless --storage is shared "
        "(default: $OPENFAL_PUBLIC_URL)",
    )
    p.add_argument(
        "--gateway-key",
        metavar="ID:SECRET",
        help="API key for those uploads when the gateways require keys "
        "(default: $OPENFAL_GATEWAY_KEY)",
    )
    p.add_argument(
        "--storage",
        dest="storage_url",
        help="storage shared with the gateways, written directly by runners: s3://BUCKET/PREFIX "
        "or file:///SHARED/DIR (default: $OPENFAL_STORAGE_URL)",
    )
    p.add_argument(
        "--runner-host",
        help="address runners bind (default 127.0.0.1; 0.0.0.0 lets gateways on other hosts "
        "relay websockets)",
    )
    p.add_argument(
        "--advertise-host",
        help="address gateways reach this host's runners at (default: --runner-host)",
    )
    p.add_argument(
        "--lease-ttl",
        type=float,
        help="seconds a request lease and a runner slot live without renewal (default 30)",
    )
    p.add_argument(
        "--cancel-grace",
        type=float,
        help="seconds a runner gets to stop a cancelled request before it is restarted; an app "
        "that reports progress may finish its step while /health answers (default 1)",
    )
    p.add_argument(
        "--drain-timeout",
        type=float,
        help="seconds SIGTERM waits for in-flight requests before requeueing them "
        "(default: as long as they take)",
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        help="serve this worker's Prometheus metrics on http://METRICS_HOST:PORT/metrics",
    )
    p.add_argument("--metrics-host", help="address of --metrics-port (default 127.0.0.1)")
    add_security_args(p, limits=False)

    for name, what in (("workers", "workers"),):  # runners: see deploy_cmds
        group = sub.add_parser(name, help=f"{what} in the cluster").add_subparsers(
            dest=f"{name}_command", required=True, metavar="ACTION"
        )
        p = group.add_parser(
            "list",
            help=f"every live {what[:-1]} (host, app, state, load, uptime)",
            epilog=f"example: openfal {name} list --store redis://10.0.0.5:6379/0",
        )
        store_args(p)
        p.add_argument("--json", action="store_true", help="one JSON object per line")


def dispatch(args: argparse.Namespace) -> int:
    if args.command in ("gateway", "worker"):
        from openfal.cli.settings_cmd import run_gateway, run_worker

        return run_gateway(args) if args.command == "gateway" else run_worker(args)
    return asyncio.run(listing(args))


async def listing(args: argparse.Namespace) -> int:
    url = args.store_url or f"sqlite:///{args.data_dir / 'openfal.db'}"
    store = Store.from_url(url)
    await store.open()
    try:
        if args.command == "runners":
            return await runners_list(store, args)
        return await workers_list(store, args)
    finally:
        await store.close()


def uptime(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


async def runners_list(store: Store, args: argparse.Namespace) -> int:
    runners = await store.list_runners(args.app_id)
    t = time.time()
    if args.json:
        for r in runners:
            sys.stdout.write(json.dumps({**r.to_json(), "uptime": t - r.started_at}) + "\n")
        return 0
    table = Table("runner", "host", "app", "state", "in flight", "uptime", "url", "worker")
    for r in runners:
        table.add_row(
            r.runner_id,
            r.host,
            r.app_id,
            r.state.value,
            f"{r.in_flight}/{r.max_multiplexing}",
            uptime(t - r.started_at),
            r.url,
            r.worker_id,
        )
    console.print(table)
    return 0


async def workers_list(store: Store, args: argparse.Namespace) -> int:
    workers = await store.list_workers()
    t = time.time()
    if args.json:
        for w in workers:
            sys.stdout.write(json.dumps({**w.to_json(), "uptime": t - w.started_at}) + "\n")
        return 0
    table = Table("worker", "host", "pid", "apps", "GPUs free/all", "state", "uptime")
    for w in workers:
        table.add_row(
            w.worker_id,
            w.host,
            str(w.pid),
            " ".join(w.apps),
            f"{len(w.free_gpus)}/{len(w.gpus)}" if w.gpus else "-",
            "draining" if w.draining else "serving",
            uptime(t - w.started_at),
        )
    console.print(table)
    return 0
