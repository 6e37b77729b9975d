"""App registrations and files across processes: a gateway validates with the app's own
models, a worker serves apps another worker registered, and runners on a host without the
gateway's storage upload their files through the gateway."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pytest
from PIL import Image as PILImage

from tests.cluster.harness import Cluster, status, submit
from tests.e2e.harness import wait_for
from tests.store.redis_server import start_redis

pytestmark = pytest.mark.e2e


def test_registrations_validation_and_uploads_through_the_gateway(tmp_path: Path):
    redis = start_redis(tmp_path / "redis")
    cluster = Cluster(tmp_path, redis)
    try:
        g = cluster.gateway()  # files on its own disk: not shared with the worker
        first = cluster.worker("images", args=["--gateway-url", g.url])
        with g.client() as c:
            wait_for(
                lambda: "test/images" in [a["app_id"] for a in c.get("/rest/apps").json()],
                30,
                what="the registration",
            )
            # the gateway loaded the registered code: bad input never reaches the queue
            r = c.post("/queue/test/images", json={"color": "blue"})
            assert r.status_code == 422, r.text
            assert r.json()["detail"][0]["loc"][:2] == ["body", "color"]

            # a worker started without --app serves what another one registered
            second = cluster.worker(args=["--gateway-url", g.url])
            first.terminate()
            assert first.wait(60) == 0, first.logs()
            request_id = submit(c, "test/images", {"color": [0, 128, 255]})
            wait_for(
                lambda: status(c, "test/images", request_id)["status"] == "COMPLETED",
                90,
                what="the request",
            )
            assert "test/images" in second.logs()
            image = c.get(f"/queue/test/images/requests/{request_id}").json()["image"]
        # the runner uploaded the PNG through the gateway, which serves it
        assert image["url"].startswith(f"{g.url}/files/"), image
        r = httpx.get(image["url"])
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        assert len(r.content) == image["file_size"]
        picture = PILImage.open(io.BytesIO(r.content)).convert("RGB")
        assert picture.getpixel((5, 5)) == (0, 128, 255)
        assert list((tmp_path / "gateway0").rglob("*.png"))  # in the gateway's own storage
    finally:
        cluster.stop()
        redis.stop()
