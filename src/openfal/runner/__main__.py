"""`python -m openfal.runner APP_REF --host HOST --port PORT`: parse and delegate."""

from __future__ import annotations

import argparse
import sys

from openfal.runner._serve import serve

EXAMPLE = """example:
  python -m openfal.runner tests/fixtures/apps/echo.py::Echo --port 8001
  curl -X POST localhost:8001/ -H 'content-type: application/json' -d '{"message": "hi"}'

exit status 3: the app could not be loaded or its setup() raised."""


def main(argv: list[str] | None = None) -> int:
    """Run the runner CLI; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m openfal.runner",
        description="Serve one openfal App over HTTP (the runner protocol).",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "app_ref", metavar="APP_REF", help="path/to/file.py::ClassName or package.module:ClassName"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on")
    parser.add_argument(
        "--link",
        metavar="PATH",
        help="also serve the worker link (framed msgpack) on this Unix socket",
    )
    args = parser.parse_args(argv)
    return serve(args.app_ref, args.host, args.port, args.link)


if __name__ == "__main__":
    sys.exit(main())
