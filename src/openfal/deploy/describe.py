"""``python -m openfal.deploy.describe FILE.py::Class``: the app's settings and endpoints as
one JSON line, read by the interpreter of the app's own environment."""

from __future__ import annotations

import json
import sys

from openfal.sdk import describe, load_app


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m openfal.deploy.describe FILE.py::Class", file=sys.stderr)
        return 2
    info = describe(load_app(argv[0]))
    print(json.dumps({"settings": info["settings"], "endpoints": info["endpoints"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
