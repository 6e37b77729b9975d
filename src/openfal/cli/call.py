"""``openfal call APP_ID ...``: submit a request with :mod:`openfal.client` and follow it.

Shows the queue position, a progress bar and a live log tail on stderr, prints the result
JSON on stdout and saves output files (``url`` fields) with ``--out``. ``--logs`` prints
the logs only. Ctrl-C cancels the request.
"""

from __future__ import annotations

import argparse
import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.spinner import Spinner
from rich.text import Text

from openfal.client import (
    FalClientError,
    FalClientHTTPError,
    InProgress,
    Queued,
    Status,
    SyncClient,
    SyncRequestHandle,
)

EPILOG = """examples:
  openfal call openfal/echo message=hello repeat=3
  openfal call test/steps --input '{"steps": 5}' --logs
  openfal call me/upscaler image_url=@photo.png --out results/   # @FILE uploads it first
  openfal call openfal/echo --input @input.json --sync
"""
LOG_TAIL = 8
_DATA_URI = re.compile(r"^data:(?P<type>[^;,]*)(?P<b64>;base64)?,(?P<data>.*)$", re.DOTALL)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "call",
        help="call an app on a server and follow the request",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("app_id", metavar="APP_ID", help="owner/alias, e.g. openfal/echo")
    p.add_argument(
        "fields", nargs="*", metavar="KEY=VALUE", help="input fields (JSON values; @FILE uploads)"
    )
    p.add_argument("--input", "-i", help="the input as JSON, or @FILE.json")
    p.add_argument("--path", default="", help="endpoint path, e.g. /upper")
    p.add_argument("--sync", action="store_true", help="direct run: no queue, no progress")
    p.add_argument("--out", type=Path, help="save output files into this folder")
    p.add_argument("--logs", action="store_true", help="print the request's logs only")
    p.add_argument("--url", help="server URL (default: $OPENFAL_URL or http://127.0.0.1:8000)")
    p.add_argument("--key", help="API key (default: $FAL_KEY)")


# ---------------------------------------------------------------------------- input


def parse_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def build_input(text: str | None, fields: list[str], client: SyncClient) -> dict[str, Any]:
    """``--input`` (JSON or @FILE) with ``KEY=VALUE`` fields on top; ``KEY=@FILE`` uploads."""
    data: Any = {}
    if text:
        source = Path(text[1:]).read_text() if text.startswith("@") else text
        try:
            data = json.loads(source)
        except ValueError as e:
            raise SystemExit(f"openfal call: --input is not valid JSON: {e}") from None
        if not isinstance(data, dict):
            raise SystemExit("openfal call: --input must be a JSON object")
    for field in fields:
        key, sep, raw = field.partition("=")
        if not sep or not key:
            raise SystemExit(f"openfal call: expected KEY=VALUE, got {field!r}")
        data[key] = client.upload_file(raw[1:]) if raw.startswith("@") else parse_value(raw)
    return dict(data)


# ---------------------------------------------------------------------------- output files


def file_urls(value: Any) -> Iterator[tuple[str, str | None]]:
    """``(url, file_name)`` of every ``{"url": ...}`` object in a result, in order."""
    if isinstance(value, dict):
        url = value.get("url")
        if isinstance(url, str) and url.startswith(("http://", "https://", "data:")):
            name = value.get("file_name")
            yield url, name if isinstance(name, str) else None
        for v in value.values():
            yield from file_urls(v)
    elif isinstance(value, list):
        for v in value:
            yield from file_urls(v)


def _name_for(url: str, given: str | None, index: int) -> str:
    name = given or Path(unquote(urlsplit(url).path)).name
    if url.startswith("data:") or not name:
        name = given or f"output-{index}"
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def save_files(result: Any, out: Path, console: Console) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    for i, (url, given) in enumerate(file_urls(result), 1):
        target = out / _name_for(url, given, i)
        n = 1
        while target in saved or target.exists():
            target = target.with_name(f"{target.stem}-{n}{target.suffix}")
            n += 1
        _download(url, target)
        saved.append(target)
        console.print(f"saved {target} ({target.stat().st_size} bytes)")
    return saved


def _download(url: str, target: Path) -> None:
    m = _DATA_URI.match(url)
    if m:
        payload = m["data"]
        data = base64.b64decode(payload) if m["b64"] else unquote(payload).encode()
        target.write_bytes(data)
        return
    with httpx.stream("GET", url, timeout=60, follow_redirects=True) as r:
        r.raise_for_status()
        with target.open("wb") as f:
            for chunk in r.iter_bytes():
                f.write(chunk)


# ---------------------------------------------------------------------------- display


class Display:
    """Status, progress and the log tail on stderr: a live view on a terminal, one line per
    change otherwise."""

    def __init__(self, console: Console, request_id: str) -> None:
        self.console = console
        self.logs: list[str] = []
        self.live: Live | None = None
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self.task = self.progress.add_task("running", total=None)
        self.shown_progress: tuple[Any, ...] = ()
        self.state = Text("submitted")
        self.spinner = Spinner("dots", self.state)
        console.print(f"request {request_id}")
        if console.is_terminal:
            self.live = Live(self._view(), console=console, refresh_per_second=8)
            self.live.start()

    def _view(self) -> Group:
        tail = Text("\n".join(self.logs[-LOG_TAIL:]), style="dim")
        return Group(self.spinner, self.progress, tail)

    def update(self, status: Status) -> None:
        shown = self.state.plain
        progress = status.progress if isinstance(status, InProgress) else None
        if isinstance(status, Queued):
            self.state = Text(f"queued, position {status.position}")
        elif isinstance(status, InProgress):
            self.state = Text("running")
        else:
            self.state = Text("completed")
        new = self._new_logs(status)
        if self.live is not None:
            self._progress(progress)
            self.spinner.update(text=self.state)
            self.live.update(self._view())
            return
        if self.state.plain != shown:
            self.console.print(self.state.plain)
        for line in new:
            self.console.print(f"  {line}", markup=False, highlight=False)
        self._progress(progress)

    def _progress(self, progress: dict[str, Any] | None) -> None:
        if not progress or not progress.get("total"):
            return
        step, total = progress.get("step", 0), progress["total"]
        label = progress.get("message") or "running"
        self.progress.update(self.task, completed=step, total=total, description=label)
        if self.live is None and (step, total, label) != self.shown_progress:
            self.console.print(f"progress {step}/{total} {label}")
        self.shown_progress = (step, total, label)

    def _new_logs(self, status: Status) -> list[str]:
        logs = getattr(status, "logs", None) or []
        new = [str(e.get("message", "")) for e in logs[len(self.logs) :]]
        self.logs.extend(new)
        return new

    def close(self) -> None:
        if self.live is not None:
            self.live.stop()


# ---------------------------------------------------------------------------- the command


def run(args: argparse.Namespace) -> int:
    err = Console(stderr=True)
    client = SyncClient(base_url=args.url, key=args.key)
    try:
        arguments = build_input(args.input, args.fields, client)
        if args.sync:
            with err.status(f"running {args.app_id}"):
                result = client.run(args.app_id, arguments, path=args.path)
        else:
            handle = client.submit(args.app_id, arguments, path=args.path)
            result = _follow(handle, err, logs_only=args.logs)
            if args.logs:
                return 0
    except FalClientHTTPError as e:
        _show_error(err, e)
        return 1
    except FalClientError as e:
        err.print(f"[red]error:[/red] {e}")
        return 1
    except KeyboardInterrupt:  # --sync: the server cancels a run whose caller goes away
        err.print("interrupted")
        return 130
    finally:
        client.close()
    print(json.dumps(result, indent=2))
    if args.out is not None:
        save_files(result, args.out, err)
    return 0


def _follow(handle: SyncRequestHandle, err: Console, *, logs_only: bool) -> Any:
    """Show the request until it completes and answer its result; Ctrl-C cancels it."""
    display = None if logs_only else Display(err, handle.request_id)
    printed = 0
    try:
        for status in handle.iter_events(with_logs=True):
            if display is not None:
                display.update(status)
                continue
            logs = getattr(status, "logs", None) or []
            for entry in logs[printed:]:
                print(entry.get("message", ""), flush=True)
            printed = len(logs)
        if logs_only:
            handle.get()  # raises when the request failed
            return None
        return handle.get()
    except KeyboardInterrupt:
        if display is not None:
            display.close()
            display = None
        handle.cancel()
        err.print(f"cancelled request {handle.request_id}")
        raise SystemExit(130) from None
    finally:
        if display is not None:
            display.close()


def _show_error(err: Console, e: FalClientHTTPError) -> None:
    kind = f" ({e.error_type})" if e.error_type else ""
    err.print(f"[red]error {e.status_code}{kind}[/red]")
    if isinstance(e.message, list):
        for item in e.message:
            loc = ".".join(str(p) for p in item.get("loc", [])[1:]) or "body"
            err.print(f"  {loc}: {item.get('msg', item)}", markup=False, highlight=False)
    else:
        err.print(f"  {e.message}", markup=False, highlight=False)
