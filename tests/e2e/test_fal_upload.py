"""Uploads with the official ``fal-client`` against ``openfal serve`` (PROTOCOL.md §8.1)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import fal_client
import httpx
import pytest

from openfal.compat import restore, use_server
from tests.e2e.harness import Serve

pytestmark = pytest.mark.e2e

# repository chains: the CDN only (no silent fallback), and the storage-initiate path only
CDN = {"repository": "fal_v3", "fallback_repository": "fal_v3"}
STORAGE = {"repository": "fal", "fallback_repository": "fal"}


@pytest.fixture
def fal(serve) -> Iterator[Serve]:
    s = serve()
    previous = use_server(s.url, key="local-dev-key")  # also drops the cached CDN token manager
    yield s
    restore(previous)


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
