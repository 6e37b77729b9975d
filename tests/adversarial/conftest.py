"""The adversarial suites drive real ``openfal serve`` processes through the e2e harness.

``hostile`` is one server shared by a module's table (a bad input must leave it healthy and
unchanged, so sharing it is part of the test); ``redirector`` is an HTTP server on
127.0.0.2 (allow-listed for downloads) whose routes redirect where a test says.
"""

from __future__ import annotations

import http.server
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import serve
from tests.e2e.harness import Serve

__all__ = ["serve"]


class Redirector:
    """``GET /<name>`` answers 302 to ``routes[name]``."""

    def __init__(self) -> None:
        self.routes: dict[str, str] = {}
        routes = self.routes

        class _Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                target = routes.get(self.path.lstrip("/"))
                self.send_response(302 if target else 404)
                if target:
                    self.send_header("location", target)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.2", 0), _Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, name: str, target: str) -> str:
        self.routes[name] = target
        return f"http://127.0.0.2:{self.port}/{name}"


@pytest.fixture(scope="module")
def redirector() -> Iterator[Redirector]:
    r = Redirector()
    yield r
    r.server.shutdown()
    r.server.server_close()


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    data = tmp_path_factory.mktemp("hostile")
    env = {"OPENFAL_DOWNLOAD_ALLOW": "127.0.0.2"}
    server = Serve(data, ["echo", "images", "line_breaks"], env=env)
    server.start()
    yield server
    server.stop()


def stored(server: Serve) -> tuple[int, int]:
    """(requests in the store, files in storage) of a serve on its SQLite data dir."""
    with sqlite3.connect(f"file:{server.data_dir / 'openfal.db'}?mode=ro", uri=True) as db:
        (requests,) = db.execute("SELECT count(*) FROM requests").fetchone()
    files = Path(server.data_dir / "files")
    count = sum(1 for p in files.rglob("*") if p.is_file()) if files.exists() else 0
    return int(requests), count
