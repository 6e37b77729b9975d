"""download_file / download_bytes / load_image / File.save: sources, limits and the guard."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from PIL import Image as PILImage
from pydantic import BaseModel

from openfal import toolkit
from openfal.sdk import FieldException
from openfal.storage import LocalStorage
from openfal.toolkit import (
    DownloadError,
    File,
    Image,
    ImageUrl,
    download_bytes,
    download_file,
    load_image,
)
from tests.toolkit.conftest import PUBLIC, HttpServer


class Input(BaseModel):
    image_url: ImageUrl


def url_from(field_value: str) -> str:
    """A URL as an app receives it: validated, remembering its field."""
    return Input(image_url=field_value).image_url


def png_bytes(color: tuple[int, int, int] = (0, 0, 0), size: tuple[int, int] = (4, 4)) -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", size, color).save(buffer, format="png")
    return buffer.getvalue()


def test_data_uris() -> None:
    assert download_bytes("data:text/plain;base64,aGVsbG8=") == b"hello"
    assert download_bytes("data:,a%20b") == b"a b"
    with pytest.raises(DownloadError) as err:
        download_bytes(url_from("data:text/plain;base64,aGVsbG8="), filesize_limit=3)
    assert err.value.type == "file_too_large"
    assert err.value.detail[0]["loc"] == ["body", "image_url"]


def test_errors_are_422_field_exceptions_naming_the_field() -> None:
    error = DownloadError("image_url", "nope", "url_refused")
    assert isinstance(error, FieldException) and error.status_code == 422
    assert error.detail == [{"loc": ["body", "image_url"], "msg": "nope", "type": "url_refused"}]
    assert DownloadError(None, "nope").detail[0]["loc"] == ["body"]


def test_own_files_come_from_storage_not_http(files_root: Path) -> None:
    key = "00112233445566778899aabbccddeeff/pic.png"
    data = png_bytes((5, 6, 7))

    async def put() -> None:
        await LocalStorage(files_root).put(key, data, content_type="image/png")

    asyncio.run(put())
    # nothing listens on PUBLIC: a network read would fail
    assert download_bytes(f"{PUBLIC}/files/{key}") == data
    assert download_bytes(f"http://localhost:8123/files/{key}") == data
    assert load_image(url_from(f"{PUBLIC}/files/{key}")).getpixel((1, 1)) == (5, 6, 7)
    path = download_file(f"{PUBLIC}/files/{key}")
    assert path.name == "pic.png" and path.read_bytes() == data
    with pytest.raises(DownloadError) as err:
        download_bytes(url_from(f"{PUBLIC}/files/ffffffffffffffffffffffffffffffff/x.png"))
    assert err.value.type == "file_not_found" and err.value.field_name == "image_url"
    with pytest.raises(DownloadError) as err:
        download_bytes(f"{PUBLIC}/files/{key}", filesize_limit=10)
    assert err.value.type == "file_too_large"


def test_loopback_and_private_hosts_are_refused_at_download(http_server: HttpServer) -> None:
    http_server.bytes_route("/a.bin", b"secret")
    # a literal loopback address: refused before any connection
    with pytest.raises(DownloadError) as err:
        download_bytes(http_server.url("/a.bin"))
    assert err.value.type == "url_refused" and "loopback" in err.value.message
    # a host *name* that resolves to loopback passes validation, and is refused at download
    named = url_from(http_server.url("/a.bin", host="localhost"))
    with pytest.raises(DownloadError) as err:
        download_bytes(named)
    assert err.value.type == "url_refused" and "resolves to" in err.value.message
    assert err.value.detail[0]["loc"] == ["body", "image_url"]


def test_allow_listed_hosts_download_over_http(http_server: HttpServer, tmp_path: Path) -> None:
    toolkit.configure(download_allow=("127.0.0.1", "localhost", "::1"))
    body = bytes(range(256)) * 1000
    http_server.bytes_route("/weights.bin", body)
    http_server.bytes_route("/chunked.bin", body, length=False)
    http_server.bytes_route("/pic.png", png_bytes((1, 2, 3)), ctype="image/png")
    assert download_bytes(http_server.url("/weights.bin")) == body
    assert download_bytes(http_server.url("/chunked.bin", host="localhost")) == body
    assert load_image(http_server.url("/pic.png")).getpixel((0, 0)) == (1, 2, 3)
    path = download_file(http_server.url("/weights.bin"), tmp_path / "w")
    assert path == tmp_path / "w" / "weights.bin" and path.read_bytes() == body
    # too large: by the declared length, and by counting a body of unknown length
    for route in ("/weights.bin", "/chunked.bin"):
        with pytest.raises(DownloadError) as err:
            download_bytes(http_server.url(route), filesize_limit=1000)
        assert err.value.type == "file_too_large"
    assert not list((tmp_path / "w").glob(".download-*"))
    with pytest.raises(DownloadError) as err:
        download_bytes(http_server.url("/missing"))
    assert err.value.type == "file_not_found" and "404" in err.value.message


def test_redirects_are_vetted_hop_by_hop(http_server: HttpServer, files_root: Path) -> None:
    toolkit.configure(download_allow=("127.0.0.1",))
    http_server.bytes_route("/final.bin", b"final")
    http_server.redirect_route("/hop", "/final.bin")
    http_server.redirect_route("/to-metadata", "http://169.254.169.254/latest/meta-data")
    http_server.redirect_route("/loop", "/loop")
    assert download_bytes(http_server.url("/hop")) == b"final"
    with pytest.raises(DownloadError) as err:
        download_bytes(http_server.url("/to-metadata"))
    assert err.value.type == "url_refused" and "metadata" in err.value.message
    with pytest.raises(DownloadError, match="redirects"):
        download_bytes(http_server.url("/loop"))
    # a redirect to one of our own files is read from storage
    key = "00112233445566778899aabbccddeeff/own.txt"
    asyncio.run(LocalStorage(files_root).put(key, b"own bytes"))
    http_server.redirect_route("/to-own", f"{PUBLIC}/files/{key}")
    assert download_bytes(http_server.url("/to-own")) == b"own bytes"


def test_download_file_caches_per_url_unless_forced() -> None:
    first = download_file("data:text/plain,one")
    assert first.read_bytes() == b"one" and first.suffix == ".txt"
    first.write_bytes(b"changed")
    assert download_file("data:text/plain,one").read_bytes() == b"changed"
    assert download_file("data:text/plain,one", force=True).read_bytes() == b"one"
    assert download_file("data:text/plain,two") != first


def test_file_save_and_as_bytes(tmp_path: Path) -> None:
    file = File(url="data:application/octet-stream;base64,AAEC")
    target = file.save(tmp_path / "out" / "x.bin")
    assert target.read_bytes() == b"\0\1\2"
    with pytest.raises(FileExistsError):
        file.save(target)
    File(url="data:,new").save(target, overwrite=True)
    assert target.read_bytes() == b"new"
    assert file.as_bytes() == b"\0\1\2"


def test_not_an_image_is_invalid_image() -> None:
    with pytest.raises(DownloadError) as err:
        load_image(url_from("data:text/plain,hello"))
    assert err.value.type == "invalid_image" and err.value.field_name == "image_url"
    with pytest.raises(DownloadError):
        Image(url="data:text/plain,hello").to_pil()
