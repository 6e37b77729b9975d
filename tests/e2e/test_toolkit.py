"""openfal.toolkit in real runners behind ``openfal serve``: file outputs and URL inputs."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from typing import Any

import fal_client
import httpx
import pytest
from PIL import Image as PILImage

from openfal.compat import restore, use_server
from tests.e2e.harness import Serve, free_port, wait_for

pytestmark = pytest.mark.e2e

CDN = {"repository": "fal_v3", "fallback_repository": "fal_v3"}


@pytest.fixture
def images(serve) -> Iterator[Serve]:
    s = serve("images")
    previous = use_server(s.url, key="local-dev-key")
    yield s
    restore(previous)


def decode(data: bytes) -> PILImage.Image:
    return PILImage.open(io.BytesIO(data))


def submit_and_wait(client: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
    submitted = client.post(f"/queue/test/images{path}", json=body)
    assert submitted.status_code == 200, submitted.text
    handle = submitted.json()

    def completed() -> bool:
        status = client.get(handle["status_url"], params={"logs": 1}).json()["status"]
        return status == "COMPLETED"

    wait_for(completed, timeout=60, what="the request to complete")
    return client.get(handle["response_url"])


def test_queue_mode_returns_a_url_sync_mode_a_data_uri(images):
    # queue mode, through the official client: a URL served by /files
    result = fal_client.subscribe(
        "test/images", arguments={"image_size": {"width": 64, "height": 48}, "color": [0, 128, 255]}
    )
    image = result["image"]
    assert set(image) == {"url", "content_type", "file_name", "file_size", "width", "height"}
    assert image["url"].startswith(f"{images.url}/files/") and image["url"].endswith(".png")
    assert (image["width"], image["height"], image["content_type"]) == (64, 48, "image/png")
    r = httpx.get(image["url"])
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert len(r.content) == image["file_size"]
    assert decode(r.content).convert("RGB").getpixel((10, 10)) == (0, 128, 255)

    # sync_mode: the bytes come inline as a data: URI, nothing to download
    with images.client() as client:
        r = client.post("/test/images", json={"image_size": "square", "sync_mode": True})
    assert r.status_code == 200, r.text
    image = r.json()["image"]
    header, _, payload = image["url"].partition(",")
    assert header == "data:image/png;base64"
    picture = decode(base64.b64decode(payload))
    assert picture.size == (512, 512) == (image["width"], image["height"])
    assert picture.convert("RGB").getpixel((0, 0)) == (255, 0, 0)


def png(color: tuple[int, int, int], size: tuple[int, int] = (100, 100)) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", size, color).save(buffer, format="png")
    return buffer.getvalue()


def test_image_url_takes_uploaded_urls_and_data_uris(images):
    uploaded = fal_client.upload(png((1, 2, 3), (30, 20)), "image/png", **CDN)
    # loopback, yet accepted: the runner reads this server's own files from storage
    with images.client() as client:
        r = client.post("/test/images/inspect", json={"image_url": uploaded})
        assert r.status_code == 200, r.text
        assert r.json() == {"width": 30, "height": 20, "pixel": [1, 2, 3]}
        data_uri = "data:image/png;base64," + base64.b64encode(png((9, 8, 7))).decode()
        r = submit_and_wait(client, "/inspect", {"image_url": data_uri})
        assert r.status_code == 200, r.text
        assert r.json() == {"width": 100, "height": 100, "pixel": [9, 8, 7]}
        # an output of one request is an input of the next
        made = client.post("/test/images", json={"color": [4, 5, 6]}).json()["image"]["url"]
        r = client.post("/test/images/inspect", json={"image_url": made})
        assert r.status_code == 200 and r.json()["pixel"] == [4, 5, 6]
        # File inputs take URLs too
        r = client.post("/test/images/checksum", json={"file": uploaded})
        assert r.status_code == 200 and r.json()["size"] > 0


def test_metadata_and_private_urls_are_refused(images):
    with images.client() as client:
        r = client.post(
            "/queue/test/images/inspect",
            json={"image_url": "http://169.254.169.254/latest/meta-data"},
        )
        assert r.status_code == 422, r.text
        (error,) = r.json()["detail"]
        assert error["loc"] == ["body", "image_url"]
        assert "169.254.169.254 is the cloud metadata address" in error["msg"]
        assert "request_id" not in r.json()  # refused before anything was queued
        r = client.post("/test/images/checksum", json={"file": "http://10.0.0.1/a.bin"})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "file"]
        # a host *name* resolving to loopback passes submit; the runner refuses to fetch it
        sneaky = f"http://localhost:{free_port()}/latest/meta-data"
        r = submit_and_wait(client, "/inspect", {"image_url": sneaky})
        assert r.status_code == 422, r.text
        (error,) = r.json()["detail"]
        assert error["loc"] == ["body", "image_url"] and error["type"] == "url_refused"
        assert "localhost resolves to" in error["msg"]


def test_runners_write_to_s3_storage(serve, tmp_path):
    """With S3 storage (a real SeaweedFS), runners store outputs in the bucket, the gateway
    serves them, and own-file inputs are read back from the bucket."""
    from tests.storage.seaweed import SeaweedS3

    with SeaweedS3(tmp_path / "seaweed") as seaweed:
        bucket = seaweed.create_bucket("openfal-e2e")
        s = serve(
            "images",
            env={
                "OPENFAL_STORAGE_URL": f"s3://{bucket}/files?endpoint={seaweed.endpoint}",
                "AWS_ACCESS_KEY_ID": seaweed.access_key,
                "AWS_SECRET_ACCESS_KEY": seaweed.secret_key,
                "AWS_REGION": seaweed.region,
            },
        )
        with s.client() as client:
            made = client.post("/test/images", json={"color": [10, 20, 30]})
            assert made.status_code == 200, made.text
            url = made.json()["image"]["url"]
            assert url.startswith(f"{s.url}/files/")
            r = httpx.get(url, follow_redirects=True)
            assert r.status_code == 200 and r.headers["content-type"] == "image/png"
            assert decode(r.content).convert("RGB").getpixel((0, 0)) == (10, 20, 30)
            key = url.removeprefix(f"{s.url}/files/")
            s3 = seaweed.client()
            try:
                stored = s3.get_object(Bucket=bucket, Key=f"files/{key}")["Body"].read()
            finally:
                s3.close()
            assert stored == r.content
            r = client.post("/test/images/inspect", json={"image_url": url})
            assert r.status_code == 200, r.text
            assert r.json()["pixel"] == [10, 20, 30]
        s.stop()
