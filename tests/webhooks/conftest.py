"""A real HTTP receiver on 127.0.0.1 (``http.server`` in a thread) for delivery tests."""

from __future__ import annotations

import json
import queue
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from openfal.webhooks.verify import clear_jwks_cache
from tests.e2e.conftest import serve  # noqa: F401 - real `openfal serve` processes


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes


@dataclass
class Receiver:
    """What the server answers, and what it was sent; the test thread reads ``requests``."""

    url: str = ""
    status: int = 200
    response_headers: dict[str, str] = field(default_factory=dict)
    get_body: Any = None  # JSON answered to GET (a JWKS)
    hold: bool = False  # keep POSTs waiting until ``release`` is set
    release: threading.Event = field(default_factory=threading.Event)
    requests: queue.Queue[Received] = field(default_factory=queue.Queue)

    def next_request(self, timeout: float = 10.0) -> Received:
        return self.requests.get(timeout=timeout)


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self._record(body)
            if receiver.hold:
                receiver.release.wait(timeout=30)
            self._answer(receiver.status, b"ok")

        def do_GET(self) -> None:
            self._record(b"")
            self._answer(receiver.status, json.dumps(receiver.get_body).encode())

        def _record(self, body: bytes) -> None:
            headers = {k.lower(): v for k, v in self.headers.items()}
            receiver.requests.put(Received(self.command, self.path, headers, body))

        def _answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            for name, value in receiver.response_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep test output clean

    return Handler


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is expected here


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    server = _QuietServer(("127.0.0.1", 0), _handler(rec))
    rec.url = f"http://127.0.0.1:{server.server_address[1]}"
    # A short poll interval keeps shutdown (every teardown) fast.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        rec.release.set()  # let held handlers finish before shutting down
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture(autouse=True)
def _fresh_jwks_cache() -> Iterator[None]:
    clear_jwks_cache()
    yield
    clear_jwks_cache()
