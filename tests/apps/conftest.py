"""One ``openfal serve`` with every built-in app on demo weights, shared by the app tests.

Runners stay warm between tests (keep_alive), so each app pays its cold start once. The
server forwards the any-llm model ``fwd`` (alias ``test/forwarded``) to a real
OpenAI-compatible test server, caps images at 1024 px and videos at 9 frames.
"""

from __future__ import annotations

import base64
import io
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.harness import Serve

from .openai_server import OpenAIServer

MAX_IMAGE_SIZE = 1024
MAX_VIDEO_FRAMES = 9


@pytest.fixture(scope="session")
def openai_server() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


@pytest.fixture(scope="session")
def apps_server(
    tmp_path_factory: pytest.TempPathFactory, openai_server: OpenAIServer
) -> Iterator[Serve]:
    data = tmp_path_factory.mktemp("apps-serve")
    (data / "apps.toml").write_text(
        f"max_image_size = {MAX_IMAGE_SIZE}\nmax_video_frames = {MAX_VIDEO_FRAMES}\n"
        f'[llm.models.fwd]\nbase_url = "{openai_server.base_url}"\n'
        'model = "served-model"\naliases = ["test/forwarded"]\n'
    )
    # One torch thread per runner: on a shared 2-core machine OpenMP's spinning worker
    # threads make every step several times slower than running single-threaded.
    env = {"OMP_NUM_THREADS": "1"}
    server = Serve(data, [], args=["--demo-weights"], builtins=True, env=env)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def client(apps_server: Serve) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=apps_server.url, timeout=110.0) as http:
        yield http


def call(client: httpx.Client, app: str, body: dict[str, Any], status: int = 200) -> Any:
    response = client.post(f"/{app}", json=body)
    assert response.status_code == status, response.text
    return response.json()


def file_bytes(client: httpx.Client, url: str) -> bytes:
    """A returned file's bytes: a data URI decoded, or the URL fetched from the server."""
    if url.startswith("data:"):
        return base64.b64decode(url.partition(",")[2])
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content


def png_data_uri(width: int, height: int, color: tuple[int, int, int]) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture(scope="session")
def hello_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("speech") / "hello.wav"
    subprocess.run(["espeak-ng", "-w", str(path), "hello world"], check=True)
    return path
