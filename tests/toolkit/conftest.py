from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from openfal import toolkit
from openfal.storage import LocalStorage, Storage
from openfal.toolkit._settings import (
    ENV_DOWNLOAD_ALLOW,
    ENV_DOWNLOAD_DIR,
    ENV_FILE_RETENTION,
    ENV_MAX_DOWNLOAD_SIZE,
    ENV_PUBLIC_URL,
    ENV_STORAGE_URL,
)

PUBLIC = "http://127.0.0.1:8123"  # nothing listens there: own files must come from storage


@pytest.fixture(autouse=True)
def plain_process(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No runner context unless a test configures one; downloads under tmp_path."""
    for name in (
        ENV_STORAGE_URL,
        ENV_PUBLIC_URL,
        ENV_FILE_RETENTION,
        ENV_DOWNLOAD_ALLOW,
        ENV_MAX_DOWNLOAD_SIZE,
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(ENV_DOWNLOAD_DIR, str(tmp_path / "downloads"))
    toolkit.configure()
    yield
    toolkit.configure()
    toolkit.use_storage(None)


@pytest.fixture
def files_root(tmp_path: Path) -> Path:
    """A runner context: storage under tmp_path/files, public URL ``PUBLIC``."""
    root = tmp_path / "files"
    toolkit.use_storage(Storage.from_url)  # what the runner does at start
    toolkit.configure(storage_url=f"file://{root}", public_url=PUBLIC, file_retention=3600.0)
    return root


def read_local(root: Path, url: str) -> bytes:
    """The bytes stored under the key of own file ``url``, read with a separate storage."""
    import asyncio

    key = url.removeprefix(f"{PUBLIC}/files/")

    async def read() -> bytes:
        return await LocalStorage(root).read(key)

    return asyncio.run(read())


Handler = Callable[[http.server.BaseHTTPRequestHandler], None]


class HttpServer:
    """A tiny HTTP server on 127.0.0.1 whose routes are functions of the handler."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        routes = self.routes

        class _Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                route = routes.get(self.path)
                if route is None:
                    self.send_error(404)
                    return
                route(self)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def bytes_route(self, path: str, body: bytes, length: bool = True, ctype: str = "") -> None:
        def handle(h: http.server.BaseHTTPRequestHandler) -> None:
            h.send_response(200)
            h.send_header("content-type", ctype or "application/octet-stream")
            if length:
                h.send_header("content-length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)

        self.routes[path] = handle

    def redirect_route(self, path: str, location: str) -> None:
        def handle(h: http.server.BaseHTTPRequestHandler) -> None:
            h.send_response(302)
            h.send_header("location", location)
            h.send_header("content-length", "0")
            h.end_headers()

        self.routes[path] = handle


@pytest.fixture
def http_server() -> Iterator[HttpServer]:
    server = HttpServer()
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()
