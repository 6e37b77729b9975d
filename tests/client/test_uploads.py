"""openfal.client uploads against a real ``openfal serve``: one shot, multipart from memory and
from disk, and the storage repository; sync and async."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

import openfal.client as oc
from tests.e2e.harness import Serve

pytestmark = pytest.mark.e2e

SMALL_PARTS = {"multipart_threshold": 1000, "multipart_chunk_size": 256, "multipart_concurrency": 3}


def upload(kind: str, server: Serve, method: str, *args: Any, **kwargs: Any) -> str:
    if kind == "sync":
        with oc.SyncClient(base_url=server.url, **SMALL_PARTS) as client:
            url: str = getattr(client, method)(*args, **kwargs)
            return url

    async def go() -> str:
        async with oc.AsyncClient(base_url=server.url, **SMALL_PARTS) as client:
            result: str = await getattr(client, method)(*args, **kwargs)
            return result

    return asyncio.run(go())


def fetched(url: str) -> httpx.Response:
    r = httpx.get(url, timeout=30)
    assert r.status_code == 200, r.text
    return r


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_uploads(kind: str, server: Serve, tmp_path: Path):
    small = upload(kind, server, "upload", b"tiny", "text/plain", "tiny.txt")
    assert small.endswith("/tiny.txt") and fetched(small).content == b"tiny"

    data = os.urandom(256 * 9 + 17)  # ten parts, the last one short
    url = upload(kind, server, "upload", data, "application/octet-stream", "blob.bin")
    r = fetched(url)
    assert r.content == data and r.headers["content-type"] == "application/octet-stream"

    path = tmp_path / "doc.json"
    path.write_bytes(b'{"k": "' + b"v" * 3000 + b'"}')
    url = upload(kind, server, "upload_file", path)
    assert url.endswith("/doc.json") and fetched(url).content == path.read_bytes()
    assert fetched(url).headers["content-type"] == "application/json"

    url = upload(kind, server, "upload", b"via storage", "text/plain", repository="fal")
    assert fetched(url).content == b"via storage"


def test_encode_helpers(tmp_path: Path):
    from PIL import Image

    assert oc.encode("hi", "text/plain") == "data:text/plain;base64,aGk="
    (tmp_path / "a.json").write_bytes(b"{}")
    assert oc.encode_file(tmp_path / "a.json") == "data:application/json;base64,e30="
    assert oc.encode_image(Image.new("RGB", (2, 2)), "png").startswith("data:image/png;base64,")
