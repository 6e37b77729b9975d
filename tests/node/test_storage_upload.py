"""The official ``@fal-ai/client`` (Node) uploads to openfal: ``fal.storage.upload``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Serve
from tests.node.harness import run_node

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Serve]:
    s = Serve(tmp_path / "data", []).start()
    yield s
    s.stop()


def test_storage_upload_small_and_multipart(server: Serve):
    s = server
    out = run_node("storage_upload.mjs", {"OPENFAL_URL": s.url, "BIG_MIB": "95"}, timeout=100)

    small = out["small"]
    assert small["url"].startswith(f"{s.url}/files/")
    assert small["status"] == 200 and small["content_type"].startswith("text/plain")
    assert small["got"] == small["sent"] and small["size"] == 25
    assert small["calls"][0] == "POST /rest/storage/upload/initiate"
    assert small["calls"][1].startswith("PUT /rest/storage/upload/put/")

    big = out["big"]
    assert big["url"].startswith(f"{s.url}/files/")
    assert big["status"] == 200 and big["size"] == 95 * 1024 * 1024 + 4321
    assert big["got"] == big["sent"]
    calls = big["calls"]
    assert calls[0] == "POST /rest/storage/upload/initiate-multipart"
    parts = [c for c in calls if re.fullmatch(r"PUT /rest/storage/upload/put/.+/\d+", c)]
    assert len(parts) == 10  # 10 MiB parts
    assert calls[-1].startswith("POST /rest/storage/upload/put/") and calls[-1].endswith(
        "/complete"
    )


def test_blob_inputs_are_uploaded_and_read_by_the_app(tmp_path: Path):
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (33, 22), (7, 77, 177)).save(buffer, format="png")
    s = Serve(tmp_path / "data", ["images"]).start()
    try:
        out = run_node(
            "upload_inputs.mjs",
            {"OPENFAL_URL": s.url, "PNG_B64": base64.b64encode(buffer.getvalue()).decode()},
        )
    finally:
        s.stop()
    assert out["data"] == {"width": 33, "height": 22, "pixel": [7, 77, 177]}
    assert out["uploads"][0] == "POST /rest/storage/upload/initiate"
