"""S3Storage specifics, against the session's SeaweedFS server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from openfal.storage import MultipartError, StorageError, new_key
from openfal.storage.s3 import S3Storage
from openfal.store.clock import now

from .seaweed import SeaweedS3

MiB = 1024 * 1024


@pytest.fixture
async def s3(seaweed: SeaweedS3, s3_bucket: str, boto_session: Any) -> AsyncIterator[S3Storage]:
    storage = S3Storage(
        s3_bucket,
        f"s3-{uuid.uuid4().hex[:12]}",
        endpoint_url=seaweed.endpoint,
        session=boto_session,
        multipart_threshold=5 * MiB,
        **seaweed.credentials,
    )
    await storage.open()
    yield storage
    await storage.close()


@pytest.fixture
def raw_client(seaweed: SeaweedS3) -> Iterator[Any]:
    client = seaweed.client()
    yield client
    client.close()


async def test_metadata_is_s3_object_metadata(s3: S3Storage, raw_client: Any) -> None:
    key = new_key("x.txt")
    await s3.put(key, b"x", content_type="text/plain", file_name="naïve name.txt", expires_at=42.25)
    head = raw_client.head_object(Bucket=s3.bucket, Key=f"{s3.prefix}/{key}")
    assert head["ContentType"] == "text/plain"
    assert head["Metadata"]["expires-at"] == "42.25"
    assert head["Metadata"]["file-name"] == "na%C3%AFve%20name.txt"


async def test_big_uploads_go_multipart(s3: S3Storage, tmp_path: Path) -> None:
    data = bytes(range(256)) * (11 * MiB // 256)  # 11 MiB > multipart_threshold
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    key = new_key("big.bin")
    info = await s3.put(key, source, content_type="application/x-big", file_name="big.bin")
    assert info.size == len(data)
    assert "-" in info.etag  # went up as an S3 multipart upload
    assert info.content_type == "application/x-big"
    assert info.file_name == "big.bin"
    assert await s3.read(key, len(data) - 3) == data[-3:]

    async def stream() -> AsyncIterator[bytes]:
        for i in range(0, len(data), MiB):
            yield data[i : i + MiB]

    key2 = new_key()
    info2 = await s3.put(key2, stream())
    assert info2.size == len(data)
    assert await s3.read(key2) == data


async def test_missing_bucket(seaweed: SeaweedS3, boto_session: Any) -> None:
    storage = S3Storage(
        "no-such-bucket-here",
        endpoint_url=seaweed.endpoint,
        session=boto_session,
        **seaweed.credentials,
    )
    try:
        with pytest.raises(StorageError, match="no-such-bucket-here"):
            await storage.open()
    finally:
        await storage.close()


async def test_foreign_objects_never_expire(s3: S3Storage, raw_client: Any) -> None:
    raw_client.put_object(Bucket=s3.bucket, Key=f"{s3.prefix}/foreign/file", Body=b"x")
    expired = new_key()
    await s3.put(expired, b"x", expires_at=now() - 1)
    assert await s3.expired() == [expired]
    assert await s3.sweep() == 1
    assert await s3.read("foreign/file") == b"x"


async def test_sweep_aborts_stale_uploads(s3: S3Storage) -> None:
    key = new_key()
    upload = await s3.create_multipart(key)
    await s3.put_part(key, upload, 1, b"x")
    await s3.sweep()
    await s3.put_part(key, upload, 2, b"y")  # still alive
    await s3.sweep(now() + s3.stale_after + 3600)
    with pytest.raises(MultipartError):
        await s3.put_part(key, upload, 3, b"z")


async def test_prefixes_isolate(s3: S3Storage, seaweed: SeaweedS3, boto_session: Any) -> None:
    other = S3Storage(
        s3.bucket,
        s3.prefix + "-other",
        endpoint_url=seaweed.endpoint,
        session=boto_session,
        **seaweed.credentials,
    )
    try:
        key = new_key()
        await s3.put(key, b"mine", expires_at=now() - 1)
        assert await other.stat(key) is None
        assert await other.expired() == []
        assert await other.sweep() == 0
        assert await s3.read(key) == b"mine"
    finally:
        await other.close()
