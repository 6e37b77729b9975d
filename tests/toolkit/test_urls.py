"""URL inputs checked at validation time: schemes, literal private addresses, own files."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from openfal import toolkit
from openfal.toolkit import FileUrl, ImageUrl, InputUrl, check_url
from tests.toolkit.conftest import PUBLIC


class Input(BaseModel):
    image_url: ImageUrl
    mask_url: FileUrl | None = None


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/cat.png",
        "http://example.com:8080/a?b=c",
        "HTTPS://EXAMPLE.COM/x",
        "https://8.8.8.8/x.png",
        "data:image/png;base64,iVBORw0KGgo=",
        "data:,hello",
    ],
)
def test_accepted(url: str) -> None:
    assert check_url(url) is None
    parsed = Input(image_url=url)
    assert isinstance(parsed.image_url, InputUrl) and parsed.image_url.field == "image_url"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data", "cloud metadata address"),
        ("http://[::ffff:169.254.169.254]/", "cloud metadata address"),
        ("http://127.0.0.1:6379/", "loopback"),
        ("http://2130706433/", "loopback"),  # 127.0.0.1 in decimal
        ("http://0x7f.1/", "loopback"),
        ("http://[::1]/", "loopback"),
        ("http://10.0.0.8/a.png", "private"),
        ("https://192.168.1.1/", "private"),
        ("http://169.254.10.10/", "link-local"),
        ("http://0.0.0.0/", "unspecified"),
        ("ftp://example.com/a", "scheme 'ftp' is not allowed"),
        ("file:///etc/passwd", "scheme 'file' is not allowed"),
        ("example.com/a.png", "scheme 'none' is not allowed"),
        ("http:///nohost", "no host"),
        ("data:nocomma", "not a valid data URI"),
        ("http://example.com:99999/", "not a valid URL"),
    ],
)
def test_refused_with_a_reason(url: str, reason: str) -> None:
    problem = check_url(url)
    assert problem is not None and reason in problem
    with pytest.raises(ValidationError) as err:
        Input(image_url="https://example.com/ok.png", mask_url=url)
    (error,) = err.value.errors()
    assert error["loc"] == ("mask_url",) and reason in error["msg"]


def test_operator_allow_list() -> None:
    assert check_url("http://10.1.2.3/w.bin") is not None
    toolkit.configure(download_allow=("10.0.0.0/8", "127.0.0.1"))
    assert check_url("http://10.1.2.3/w.bin") is None
    assert check_url("http://127.0.0.1:9000/w.bin") is None
    assert check_url("http://169.254.169.254/") is not None


def test_allow_list_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENFAL_DOWNLOAD_ALLOW", "192.168.0.0/16, models.lan")
    assert toolkit.settings().download_allow == ("192.168.0.0/16", "models.lan")
    assert check_url("http://192.168.7.7/") is None


def test_own_file_urls_pass_even_on_loopback(files_root: object) -> None:
    key = "0123456789abcdef0123456789abcdef/a.png"
    assert check_url(f"{PUBLIC}/files/{key}") is None
    assert check_url(f"http://localhost:8123/files/{key}") is None  # another loopback name
    assert check_url(f"{PUBLIC}/cdn/files/{key}") is None
    # other ports, paths and traversal are not own files
    assert check_url(f"http://127.0.0.1:8124/files/{key}") is not None
    assert check_url(f"{PUBLIC}/queue/{key}") is not None
    assert check_url(f"{PUBLIC}/files/../etc/passwd") is not None


def test_public_url_with_a_path_prefix() -> None:
    toolkit.configure(public_url="https://media.example.org/openfal/")
    from openfal.toolkit._urls import own_file_key

    key = "0123456789abcdef0123456789abcdef/b.png"
    assert own_file_key(f"https://media.example.org/openfal/files/{key}") == key
    assert own_file_key(f"https://media.example.org/files/{key}") is None
    assert own_file_key(f"http://media.example.org/openfal/files/{key}") is None
