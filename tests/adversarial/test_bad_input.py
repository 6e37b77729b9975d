"""Every hostile input an adversarial probe tried, against one real ``openfal serve``.

Each row gets its documented 4xx (never a 5xx or a dropped connection) and leaves nothing
behind: no request in the store, no file in storage. The server is shared by the whole table
and must still be healthy at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests.adversarial.conftest import Redirector, stored
from tests.adversarial.rawhttp import RawResponse, send
from tests.e2e.harness import Serve

pytestmark = pytest.mark.e2e

BIG = 5 * 1024 * 1024  # over the size validated in a helper process
MAX_BODY = 32 * 1024 * 1024  # openfal serve's JSON body limit


@dataclass
class Case:
    method: str
    path: str
    body: bytes = b""
    status: int = 400
    headers: dict[str, str] = field(default_factory=dict)
    chunks: int = 0  # send ``body`` this many times, chunked
    field: str | None = None  # the input field a 422 must name

    def head(self) -> bytes:
        lines = [f"{self.method} {self.path} HTTP/1.1", "Host: 127.0.0.1"]
        headers = {"content-type": "application/json", **self.headers}
        if self.chunks:
            headers["transfer-encoding"] = "chunked"
        elif self.body and "content-length" not in headers:
            headers["content-length"] = str(len(self.body))
        lines += [f"{k}: {v}" for k, v in headers.items()]
        return "\r\n".join(lines).encode("latin-1")


def _json(text: str) -> bytes:
    return text.encode()


def _deep(depth: int) -> bytes:
    return b'{"message": "x", "extra": ' + b"[" * depth + b"]" * depth + b"}"


SUBMIT = "/queue/openfal/echo"
INSPECT = "/queue/test/images/inspect"
STATUS = "/queue/openfal/echo/requests/{}/status"

# URL inputs that name private, loopback, link-local or metadata addresses, written every way
# a resolver reads them; all refused at submit (422 naming the field), as webhooks (400).
SSRF_URLS = [
    "http://169.254.169.254/latest/meta-data",
    "http://127.0.0.1/",
    "http://127.1/",
    "http://0/",
    "http://0.0.0.0/",
    "http://2130706433/",  # decimal
    "http://017700000001/",  # octal
    "http://0x7f000001/",  # hex
    "http://0x7f.0.0.1/",
    "http://0251.0376.0251.0376/",  # octal metadata
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",  # IPv4-mapped IPv6
    "http://[::ffff:a9fe:a9fe]/",  # IPv4-mapped metadata, hex words
    "http://[0:0:0:0:0:ffff:7f00:1]/",
    "http://[fd00::1]/",
    "http://[fe80::1]/",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
]
BAD_SCHEMES = ["file:///etc/passwd", "gopher://127.0.0.1/", "ftp://example.com/x", "dict://x/"]

CASES: dict[str, Case] = {
    "malformed JSON": Case("POST", SUBMIT, _json('{"message": ')),
    "JSON nested 1000 deep": Case("POST", SUBMIT, _deep(1000)),
    "JSON nested past the runner's limit": Case("POST", SUBMIT, _deep(201)),
    "number with 5000 digits": Case(
        "POST", SUBMIT, _json('{"message": "x", "n": ' + "9" * 5000 + "}")
    ),
    "invalid UTF-8": Case("POST", SUBMIT, b'{"message": "\xff\xfe"}'),
    "lone surrogate escape": Case("POST", SUBMIT, _json('{"message": "\\ud800"}')),
    "form body": Case(
        "POST", SUBMIT, b"message=hi", headers={"content-type": "application/x-www-form-urlencoded"}
    ),
    "multipart body": Case(
        "POST",
        SUBMIT,
        b'--b\r\nContent-Disposition: form-data; name="message"\r\n\r\nhi\r\n--b--\r\n',
        headers={"content-type": "multipart/form-data; boundary=b"},
    ),
    "JSON array body": Case("POST", SUBMIT, _json("[1, 2]"), status=422),
    # above 4 MiB a helper process validates: the same answers
    "large body, wrong field type": Case(
        "POST", SUBMIT, _json('{"message": 5, "pad": "' + "x" * BIG + '"}'), 422, field="message"
    ),
    "large body, malformed": Case("POST", SUBMIT, _json('{"pad": "' + "x" * BIG + '", }')),
    "large body, nested too deep": Case("POST", SUBMIT, _json(" " * BIG) + _deep(300)),
    "large body, bad input URL": Case(
        "POST",
        INSPECT,
        _json('{"image_url": "http://2130706433/", "pad": "' + "x" * BIG + '"}'),
        422,
        field="image_url",
    ),
    "wrong field type": Case("POST", SUBMIT, _json('{"message": 5}'), status=422, field="message"),
    "oversized body, declared": Case(
        "POST", SUBMIT, headers={"content-length": str(MAX_BODY + 1)}, status=413
    ),
    "oversized body, chunked": Case(
        "POST", SUBMIT, b" " * (1024 * 1024), chunks=MAX_BODY // (1024 * 1024) + 1, status=413
    ),
    "oversized REST body": Case(
        "POST",
        "/rest/storage/upload/initiate?storage_type=fal-cdn-v3",
        _json('{"file_name": "' + "a" * (2 * 1024 * 1024) + '"}'),
        status=413,
    ),
    "request id with an emoji": Case("GET", STATUS.format("%F0%9F%98%80"), status=404),
    "request id with CR": Case("GET", STATUS.format("a%0Db"), status=404),
    "request id with CRLF header": Case("GET", STATUS.format("a%0D%0Ax-evil:%201"), status=404),
    "request id with NUL": Case("GET", STATUS.format("%00"), status=404),
    "request id of 500 characters": Case("GET", STATUS.format("a" * 500), status=404),
    "result of a bad request id": Case("GET", "/queue/openfal/echo/requests/%E2%80%A8", status=404),
    "cancel of a bad request id": Case(
        "PUT", "/queue/openfal/echo/requests/a%0Db/cancel", status=404
    ),
    "unknown app": Case("POST", "/queue/nobody/nothing", _json("{}"), status=404),
    "bad priority header": Case(
        "POST", SUBMIT, _json('{"message": "x"}'), headers={"x-fal-queue-priority": "urgent"}
    ),
    "bad timeout header": Case(
        "POST", SUBMIT, _json('{"message": "x"}'), headers={"x-fal-request-timeout": "-1"}
    ),
    "non-string webhook_url in body": Case(
        "POST", SUBMIT, _json('{"message": "x", "webhook_url": 5}')
    ),
}
TRAVERSALS = [
    "/files/../openfal.db",
    "/files/..%2fopenfal.db",
    "/files/%2e%2e/%2e%2e/etc/passwd",
    "/files/%2E%2E%2Fopenfal.db",
    "/files/....//....//etc/passwd",
    "/files/..%5c..%5copenfal.db",
    "/files/..\\..\\openfal.db",
    "/files/objects/../../openfal.db",
    "/files//etc/passwd",
    "/files/%00",
    "/files/a%00.png",
    "/cdn/files/%2e%2e%2fopenfal.db",
    "/files/%252e%252e%252fopenfal.db",  # double encoding: a plain (missing) key
    "/files/%c0%ae%c0%ae/openfal.db",  # overlong UTF-8 dots: a plain (missing) key
    "/files/meta",
    "/files/openfal.db",
]
for i, path in enumerate(TRAVERSALS):
    # 400 when the key is not a valid key at all, 404 when it is one that is not stored
    CASES[f"traversal {i}: {path}"] = Case("GET", path, status=0)
for i, url in enumerate(SSRF_URLS + BAD_SCHEMES):
    body = _json(f'{{"image_url": "{url}"}}')
    CASES[f"input URL {i}: {url}"] = Case("POST", INSPECT, body, status=422, field="image_url")
    CASES[f"webhook {i}: {url}"] = Case(
        "POST", f"{SUBMIT}?fal_webhook={url}", _json('{"message": "x"}')
    )
    CASES[f"webhook_url in body {i}: {url}"] = Case(
        "POST", SUBMIT, _json(f'{{"message": "x", "webhook_url": "{url}"}}')
    )


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_input_gets_its_4xx(hostile: Serve, name: str) -> None:
    case = CASES[name]
    before = stored(hostile)
    answer = send(hostile.port, case.head(), case.body, case.chunks)
    _check(case, answer)
    assert stored(hostile) == before, f"{name}: something was stored"


def _check(case: Case, answer: RawResponse) -> None:
    expected = {400, 404} if case.status == 0 else {case.status}
    assert answer.status in expected, (answer.status, answer.body[:500])
    assert answer.headers.get("content-type", "").startswith("application/json"), answer
    detail = answer.json()["detail"]
    assert detail
    if case.field is not None:
        assert detail[0]["loc"] == ["body", case.field], detail
    rid = answer.headers.get("x-fal-request-id", "")
    assert rid.isascii() and rid.isprintable(), rid


REDIRECT_TARGETS = [
    "http://169.254.169.254/latest/meta-data",
    "http://127.0.0.1:9/",
    "http://[::ffff:10.0.0.1]/",
    "http://2130706433/",
    "http://localhost:9/",
]


@pytest.mark.parametrize(
    "url",
    ["redirect to " + t for t in REDIRECT_TARGETS] + ["http://localhost:9/x"],
)
def test_names_and_redirects_to_private_addresses_are_refused_at_download(
    hostile: Serve, redirector: Redirector, url: str
) -> None:
    """Host names, and public-looking URLs that redirect inward, are checked when the app
    downloads them (against the addresses they resolve to, hop by hop): a 422 naming the
    field, nothing downloaded."""
    if url.startswith("redirect to "):
        target = url.removeprefix("redirect to ")
        url = redirector.url(f"to-{REDIRECT_TARGETS.index(target)}", target)
    files = stored(hostile)[1]
    with hostile.client() as c:
        r = c.post("/test/images/inspect", json={"image_url": url})
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "image_url"]
    assert "refused" in r.json()["detail"][0]["msg"]
    assert stored(hostile)[1] == files


def test_the_server_is_still_healthy(hostile: Serve) -> None:
    with hostile.client() as c:
        assert c.post("/openfal/echo", json={"message": "ok"}).json() == {"message": "ok"}


def test_range_bounds_of_any_length(hostile: Serve) -> None:
    with hostile.client() as c:
        up = c.post("/rest/storage/upload?file_name=r.txt", content=b"0123456789")
        assert up.status_code == 200, up.text
        path = "/files/" + up.json()["url"].split("/files/", 1)[1]
    digits = "9" * 5000
    for header, status in [
        (f"bytes={digits}-", 416),
        (f"bytes={digits}-{digits}", 416),
        (f"bytes=0-{digits}", 206),
        (f"bytes=-{digits}", 206),
        ("bytes=00000000000000000000000000003-4", 206),
    ]:
        answer = send(hostile.port, f"GET {path} HTTP/1.1\r\nHost: x\r\nRange: {header}".encode())
        assert answer.status == status, (header[:40], answer.status, answer.body[:200])
        if status == 206:
            assert answer.body in (b"0123456789", b"34")
        else:
            assert answer.headers["content-range"] == "bytes */10"
