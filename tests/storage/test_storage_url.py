"""Storage.from_url: schemes, options from the URL and from the environment."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from openfal.storage import LocalStorage, Storage


def test_file_url_absolute(tmp_path: Path) -> None:
    storage = Storage.from_url(f"file://{tmp_path}/files", max_size=10)
    assert isinstance(storage, LocalStorage)
    assert storage.root == tmp_path / "files"
    assert storage.max_size == 10


def test_file_url_relative(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    storage = Storage.from_url("file://data/files")
    assert isinstance(storage, LocalStorage)
    assert storage.root == tmp_path / "data" / "files"


def test_bare_path(tmp_path: Path) -> None:
    storage = Storage.from_url(str(tmp_path))
    assert isinstance(storage, LocalStorage)
    assert storage.root == tmp_path


@pytest.mark.parametrize("url", ["file://", "ftp://host/x", "s3://", "s3:///prefix", ""])
def test_bad_urls(url: str) -> None:
    with pytest.raises(ValueError):
        Storage.from_url(url)


async def test_s3_url_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    from openfal.storage.s3 import S3Storage

    monkeypatch.setenv("OPENFAL_S3_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "env-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    monkeypatch.delenv("OPENFAL_S3_PATH_STYLE", raising=False)
    storage = Storage.from_url("s3://my-bucket/some/prefix/", max_size=5)
    try:
        assert isinstance(storage, S3Storage)
        assert storage.bucket == "my-bucket"
        assert storage.prefix == "some/prefix"
        assert storage.endpoint_url == "http://127.0.0.1:9"
        assert storage.region == "eu-west-3"
        assert storage.path_style is True  # default with a custom endpoint
        assert storage.max_size == 5
        credentials = storage.client._request_signer._credentials
        assert credentials.access_key == "env-key"
        assert credentials.secret_key == "env-secret"
        url = await storage.presigned_url("a/b.png", 60)
        assert url is not None
        assert url.startswith("http://127.0.0.1:9/my-bucket/some/prefix/a/b.png?")
        assert "X-Amz-Signature=" in url
    finally:
        await storage.close()


async def test_s3_url_options_win_over_env(monkeypatch: pytest.MonkeyPatch) -> None:
    from openfal.storage.s3 import S3Storage

    monkeypatch.setenv("OPENFAL_S3_ENDPOINT", "http://env-endpoint:1")
    monkeypatch.setenv("OPENFAL_S3_PATH_STYLE", "true")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    storage = Storage.from_url(
        "s3://bucket-name?endpoint=http://url-endpoint:2&path_style=0",
        access_key="kw-key",
        secret_key="kw-secret",
    )
    try:
        assert isinstance(storage, S3Storage)
        assert storage.prefix == ""
        assert storage.endpoint_url == "http://url-endpoint:2"
        assert storage.path_style is False
        assert storage.region == "ap-south-1"
    finally:
        await storage.close()
    storage = Storage.from_url("s3://bucket-name?endpoint=http://x:3", endpoint_url="http://kw:4")
    try:
        assert isinstance(storage, S3Storage)
        assert storage.endpoint_url == "http://kw:4"
        assert storage.path_style is True  # from OPENFAL_S3_PATH_STYLE
    finally:
        await storage.close()


def test_s3_url_unknown_option() -> None:
    with pytest.raises(ValueError, match="unknown option"):
        Storage.from_url("s3://bucket-name?secret=oops")


def test_s3_without_boto3_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "openfal.storage.s3", raising=False)
    monkeypatch.setitem(sys.modules, "boto3", None)  # makes "import boto3" fail
    with pytest.raises(RuntimeError, match=r"openfal\[s3\]"):
        Storage.from_url("s3://bucket-name")
    import openfal.storage

    with pytest.raises(RuntimeError, match=r"openfal\[s3\]"):
        openfal.storage.S3Storage  # noqa: B018
