"""Uploads with the official ``fal-client`` against ``openfal serve`` (PROTOCOL.md §8.1)."""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path

import fal_client
import httpx
import pytest

from tests.e2e.falclient import forget_server, use_server
from tests.e2e.harness import Serve

pytestmark = pytest.mark.e2e

# repository chains: the CDN only (no silent fallback), and the storage-initiate path only
CDN = {"repository": "fal_v3", "fallback_repository": "fal_v3"}
STORAGE = {"repository": "fal", "fallback_repository": "fal"}


@pytest.fixture
def fal(serve, monkeypatch) -> Iterator[Serve]:
    s = serve()
    use_server(monkeypatch, s)
    yield s
    forget_server()


def fetch(url: str) -> httpx.Response:
    r = httpx.get(url, timeout=30)
    assert r.status_code == 200, r.text
    return r


@pytest.mark.parametrize("repo", [CDN, STORAGE], ids=["cdn", "storage"])
def test_upload_bytes(fal, repo):
    url = fal_client.upload(b"hello from fal_client", "text/plain", **repo)
    assert url.startswith(f"{fal.url}/files/")
    r = fetch(url)
    assert r.content == b"hello from fal_client"
    assert r.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize("repo", [CDN, STORAGE], ids=["cdn", "storage"])
def test_upload_file(fal, repo, tmp_path: Path):
    path = tmp_path / "notes.json"
    path.write_bytes(b'{"a": [1, 2, 3]}' * 1000)
    url = fal_client.upload_file(path, **repo)
    assert url.endswith("/notes.json")
    r = fetch(url)
    assert r.content == path.read_bytes()
    assert r.headers["content-type"] == "application/json"


@pytest.mark.parametrize("repo", [CDN, STORAGE], ids=["cdn", "storage"])
def test_upload_image(fal, repo):
    from PIL import Image  # a test dependency (pyproject's test extra)

    image = Image.new("RGB", (100, 100), (0, 0, 0))
    url = fal_client.upload_image(image, format="png", **repo)
    r = fetch(url)
    assert r.headers["content-type"] == "image/png"
    got = Image.open(io.BytesIO(r.content))
    assert got.size == (100, 100)
    assert got.convert("RGB").tobytes() == image.tobytes()


def test_range_and_lifecycle(fal):
    url = fal_client.upload(
        b"0123456789",
        "text/plain",
        lifecycle=fal_client.client.StorageSettings(expires_in=3600),
        **CDN,
    )
    r = httpx.get(url, headers={"range": "bytes=2-4"})
    assert r.status_code == 206 and r.content == b"234"
    assert (fal.data_dir / "upload.key").stat().st_mode & 0o777 == 0o600
    assert any((fal.data_dir / "files").rglob("*"))


MIB = 1024 * 1024


def write_big_file(path: Path, size: int) -> str:
    """Write ``size`` bytes, each MiB stamped with its index (misplaced parts would show);
    return their sha256."""
    block = os.urandom(MIB)
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        for index in range(-(-size // MIB)):
            chunk = (index.to_bytes(8, "big") + block[8:])[: size - index * MIB]
            digest.update(chunk)
            f.write(chunk)
    return digest.hexdigest()


def test_upload_file_over_100_mib_goes_multipart(fal, tmp_path: Path):
    path = tmp_path / "big.bin"
    size = 100 * MIB + 12345  # over fal_client's 100 MiB single-shot limit: 11 parts of 10 MiB
    sent = write_big_file(path, size)
    url = fal_client.upload_file(path, **CDN)
    assert url.startswith(f"{fal.url}/files/") and url.endswith("/big.bin")
    head = httpx.head(url)
    assert head.status_code == 200 and int(head.headers["content-length"]) == size
    assert re.fullmatch(r'"[0-9a-f]{32}-11"', head.headers["etag"]), head.headers["etag"]
    got = hashlib.sha256()
    with httpx.stream("GET", url, timeout=60) as r:
        assert r.status_code == 200
        for chunk in r.iter_bytes():
            got.update(chunk)
    assert got.hexdigest() == sent
