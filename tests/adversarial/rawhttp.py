"""HTTP/1.1 over a plain socket: paths, headers and bodies exactly as written, no client fixups."""

from __future__ import annotations

import json
import socket
import threading
from dataclasses import dataclass
from typing import Any


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def send(port: int, head: bytes, body: bytes = b"", chunks: int = 0) -> RawResponse:
    """Send ``head`` (request line and headers, without the blank line) and ``body``;
    with ``chunks``, the body is sent that many times with chunked encoding (until the
    server answers). The server must answer with a complete response: a dropped connection
    fails the test."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.sendall(head + b"\r\nConnection: close\r\n\r\n")
        # the body goes out from a thread while the answer is read here: a server that
        # answers early (413) and closes must not make the answer unreadable
        sender = threading.Thread(target=_send_body, args=(s, body, chunks), daemon=True)
        sender.start()
        answer = _read(s)
        sender.join(60)
        return answer


def _send_body(s: socket.socket, body: bytes, chunks: int) -> None:
    try:
        if chunks:
            for _ in range(chunks):
                s.sendall(b"%x\r\n%s\r\n" % (len(body), body))
            s.sendall(b"0\r\n\r\n")
        elif body:
            s.sendall(body)
    except OSError:
        pass  # the server answered and closed before reading it all


def _read(s: socket.socket) -> RawResponse:
    data = b""
    while b"\r\n\r\n" not in data:
        data += _recv(s)
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
    if "content-length" in headers:
        while len(rest) < int(headers["content-length"]):
            rest += _recv(s)
    return RawResponse(status, headers, rest)


def _recv(s: socket.socket) -> bytes:
    chunk = s.recv(65536)
    if not chunk:
        raise AssertionError("the server closed the connection without a complete answer")
    return chunk
