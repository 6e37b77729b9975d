"""File, Image, Audio, Video: fal's JSON shapes, repositories and image sizes."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from PIL import Image as PILImage
from pydantic import BaseModel, ValidationError

from openfal import toolkit
from openfal.sdk import RequestContext, bind_request
from openfal.storage import LocalStorage
from openfal.toolkit import (
    IMAGE_SIZE_PRESETS,
    Audio,
    File,
    FileRepository,
    Image,
    ImageSize,
    ImageSizeInput,
    InMemoryRepository,
    StorageRepository,
    Video,
    get_image_size,
    resolve_image_size,
)
from tests.toolkit.conftest import PUBLIC, read_local


def data_of(url: str) -> tuple[str, bytes]:
    header, _, payload = url.removeprefix("data:").partition(",")
    assert header.endswith(";base64")
    return header.removesuffix(";base64"), base64.b64decode(payload)


def test_file_serialises_like_fal() -> None:
    file = File.from_bytes(b"hello", "text/plain", "hello.txt", repository="in_memory")
    assert json.loads(file.model_dump_json()) == {
        "url": "data:text/plain;base64,aGVsbG8=",
        "content_type": "text/plain",
        "file_name": "hello.txt",
        "file_size": 5,
    }
    for cls in (Audio, Video):
        assert set(cls.model_fields) == {"url", "content_type", "file_name", "file_size"}


def test_image_serialises_with_width_and_height() -> None:
    image = Image.from_pil(PILImage.new("RGB", (7, 5), (1, 2, 3)), repository="in_memory")
    dumped = json.loads(image.model_dump_json())
    assert list(dumped) == ["url", "content_type", "file_name", "file_size", "width", "height"]
    assert (dumped["width"], dumped["height"], dumped["content_type"]) == (7, 5, "image/png")
    assert dumped["file_name"].endswith(".png")
    ctype, data = data_of(dumped["url"])
    assert ctype == "image/png" and len(data) == dumped["file_size"]
    assert PILImage.open(io.BytesIO(data)).convert("RGB").tobytes() == bytes([1, 2, 3]) * 35


def test_from_pil_formats_and_to_pil_round_trip() -> None:
    source = PILImage.new("RGB", (16, 8), (200, 10, 10))
    jpeg = Image.from_pil(source, format="jpeg", repository="in_memory")
    assert jpeg.content_type == "image/jpeg" and jpeg.file_name.endswith(".jpg")
    webp = Image.from_pil(source, format="webp", repository="in_memory")
    assert webp.content_type == "image/webp"
    png = Image.from_pil(source, repository="in_memory")
    assert png.to_pil().tobytes() == source.tobytes()
    # a URL-only Image (as a client would send it) downloads and decodes the data URI
    assert Image(url=png.url).to_pil().tobytes() == source.tobytes()


def test_from_bytes_guesses_content_type_and_names_files() -> None:
    assert File.from_bytes(b"{}", file_name="a.json", repository="in_memory").content_type == (
        "application/json"
    )
    unnamed = File.from_bytes(b"\0", repository="in_memory")
    assert unnamed.content_type == "application/octet-stream"
    assert unnamed.file_name and unnamed.file_name.endswith(".bin")
    assert File.from_bytes(b"x", repository="in_memory").as_bytes() == b"x"


def test_outside_a_runner_the_default_repository_gives_data_uris() -> None:
    image = Image.from_pil(PILImage.new("RGB", (2, 2)))
    assert image.url.startswith("data:image/png;base64,")
    assert isinstance(toolkit.default_repository(), InMemoryRepository)


def test_in_a_runner_files_go_to_storage_and_get_public_urls(files_root: Path) -> None:
    image = Image.from_pil(PILImage.new("RGB", (3, 3), (9, 9, 9)))
    assert image.url.startswith(f"{PUBLIC}/files/") and image.url.endswith(".png")
    assert read_local(files_root, image.url) == image.as_bytes()
    # own URLs are read back from storage (nothing listens on PUBLIC)
    assert Image(url=image.url).to_pil().getpixel((0, 0)) == (9, 9, 9)
    # sync_mode still works inside a runner
    assert Image.from_pil(PILImage.new("RGB", (1, 1)), repository="in_memory").url.startswith(
        "data:"
    )


def _stored(root: Path, url: str) -> float | None:
    import asyncio

    key = url.removeprefix(f"{PUBLIC}/files/")
    info = asyncio.run(LocalStorage(root).stat(key))
    assert info is not None
    return info.expires_at


def test_retention_and_the_request_lifecycle_preference(files_root: Path) -> None:
    from openfal.store.clock import now

    plain = File.from_bytes(b"a", "text/plain")
    expires = _stored(files_root, plain.url)
    assert expires is not None and abs(expires - (now() + 3600)) < 60
    headers = {"x-fal-object-lifecycle-preference": '{"expiration_duration_seconds": 120}'}
    with bind_request(RequestContext("r1", headers)):
        short = File.from_bytes(b"b", "text/plain")
    expires = _stored(files_root, short.url)
    assert expires is not None and abs(expires - (now() + 120)) < 60


def test_from_path_streams_files(files_root: Path, tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"\0\0\0\x18ftypmp42" + bytes(5000))
    video = Video.from_path(clip)
    assert (video.content_type, video.file_name, video.file_size) == ("video/mp4", "clip.mp4", 5012)
    assert video.url.endswith("/clip.mp4")
    assert read_local(files_root, video.url) == clip.read_bytes()
    sound = tmp_path / "a.wav"
    sound.write_bytes(b"RIFF....WAVE")
    audio = Audio.from_path(sound, repository="in_memory")
    assert audio.content_type in ("audio/x-wav", "audio/wav")
    picture = tmp_path / "p.png"
    PILImage.new("RGB", (11, 4)).save(picture)
    image = Image.from_path(picture, repository="in_memory")
    assert (image.width, image.height, image.content_type) == (11, 4, "image/png")
    with pytest.raises(FileNotFoundError):
        File.from_path(tmp_path / "missing.bin")


class Failing(FileRepository):
    def save(self, data: bytes, content_type: str, file_name: str) -> str:
        raise OSError("disk on fire")


def test_repositories_by_name_object_and_fallback() -> None:
    with pytest.raises(ValueError, match="unknown file repository 'nope'"):
        File.from_bytes(b"x", repository="nope")
    with pytest.raises(OSError, match="disk on fire"):
        File.from_bytes(b"x", repository=Failing())
    saved = File.from_bytes(b"x", repository=Failing(), fallback_repository=["in_memory"])
    assert saved.url.startswith("data:")
    toolkit.register_repository("failing", Failing)
    with pytest.raises(OSError):
        File.from_bytes(b"x", repository="failing")
    assert isinstance(toolkit.get_repository("fal"), InMemoryRepository)
    assert File.from_bytes(b"x", repository=None).url == "data:application/octet-stream;base64,eA=="


def test_fal_repository_names_mean_the_platform_storage(files_root: Path) -> None:
    for name in ("fal", "fal_v3", "cdn", "default"):
        assert isinstance(toolkit.get_repository(name), StorageRepository)


def test_image_size_presets_and_custom_sizes() -> None:
    assert {k: (v.width, v.height) for k, v in IMAGE_SIZE_PRESETS.items()} == {
        "square_hd": (1024, 1024),
        "square": (512, 512),
        "portrait_4_3": (768, 1024),
        "portrait_16_9": (576, 1024),
        "landscape_4_3": (1024, 768),
        "landscape_16_9": (1024, 576),
    }

    class Input(BaseModel):
        image_size: ImageSizeInput = "square_hd"

    assert resolve_image_size(Input().image_size) == (1024, 1024)
    assert resolve_image_size(Input(image_size="landscape_16_9").image_size) == (1024, 576)
    custom = Input.model_validate({"image_size": {"width": 640, "height": 360}}).image_size
    assert resolve_image_size(custom) == (640, 360)
    assert get_image_size("square") == ImageSize(width=512, height=512)
    assert resolve_image_size({"width": 3, "height": 2}) == (3, 2)
    for bad in ("huge", {"width": 0, "height": 5}, {"width": 20000, "height": 5}):
        with pytest.raises(ValidationError) as err:
            Input.model_validate({"image_size": bad})
        assert err.value.errors()[0]["loc"][0] == "image_size"
    with pytest.raises(TypeError):
        get_image_size("huge")  # type: ignore[arg-type]


def test_file_fields_take_objects_or_url_strings() -> None:
    class Input(BaseModel):
        file: File
        image: Image | None = None

    parsed = Input.model_validate(
        {"file": "https://example.com/a.bin", "image": {"url": "https://example.com/i.png"}}
    )
    assert parsed.file.url == "https://example.com/a.bin" and parsed.file.file_size is None
    assert parsed.file.input_url().field == "file"
    assert isinstance(parsed.image, Image) and parsed.image.width is None
    with pytest.raises(ValidationError) as err:
        Input.model_validate({"file": "ftp://example.com/a"})
    assert err.value.errors()[0]["loc"] == ("file",)


async def test_async_endpoints_can_make_files_too(files_root: Path) -> None:
    # called on a running event loop (as in an async endpoint): storage runs on its own loop
    image = Image.from_pil(PILImage.new("RGB", (2, 2), (4, 4, 4)))
    assert image.url.startswith(f"{PUBLIC}/files/")
    assert Image(url=image.url).to_pil().getpixel((1, 1)) == (4, 4, 4)


def test_files_from_many_threads(files_root: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        files = list(pool.map(lambda i: File.from_bytes(bytes([i]) * 100, "x/y"), range(32)))
    assert len({f.url for f in files}) == 32
    for i, file in enumerate(files):
        assert read_local(files_root, file.url) == bytes([i]) * 100
