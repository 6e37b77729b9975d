"""The storage contract: every test runs against every backend (local disk, S3/SeaweedFS)."""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from openfal.storage import (
    FileNotFound,
    InvalidKey,
    InvalidRange,
    MultipartError,
    Storage,
    UploadTooLarge,
    new_key,
)
from openfal.storage.multipart import multipart_etag
from openfal.store.clock import now

from .conftest import MakeStorage

PAYLOAD = bytes(range(256)) * 4  # 1 KiB, every byte distinct within 256


async def chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        await asyncio.sleep(0)
        yield data[i : i + size]


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


# ---------------------------------------------------------------------------- put / get


async def test_put_bytes_round_trip(storage: Storage) -> None:
    key = new_key("hello.txt")
    info = await storage.put(key, b"hello world", content_type="text/plain", file_name="hello.txt")
    assert info.key == key
    assert info.size == 11
    assert info.content_type == "text/plain"
    assert info.file_name == "hello.txt"
    assert info.etag == md5(b"hello world")
    assert info.expires_at is None
    assert abs(info.created_at - now()) < 60
    assert await storage.read(key) == b"hello world"
    assert await storage.stat(key) == info
    assert await storage.exists(key)


async def test_put_async_iterator(storage: Storage) -> None:
    key = new_key("stream.bin")
    data = PAYLOAD * 10
    info = await storage.put(key, chunks(data, 333), content_type="application/x-test")
    assert info.size == len(data)
    assert info.etag == md5(data)
    assert await storage.read(key) == data


async def test_put_path(storage: Storage, tmp_path: Path) -> None:
    source = tmp_path / "source.dat"
    source.write_bytes(PAYLOAD)
    for path in (source, str(source)):
        key = new_key("from-path.dat")
        info = await storage.put(key, path, content_type="image/png")
        assert info.size == len(PAYLOAD)
        assert info.content_type == "image/png"
        assert await storage.read(key) == PAYLOAD


async def test_put_bytearray_and_memoryview(storage: Storage) -> None:
    for data in (bytearray(b"abc"), memoryview(b"xyzxyz")[::2]):
        key = new_key()
        await storage.put(key, data)
        assert await storage.read(key) == bytes(data)


async def test_put_rejects_other_types(storage: Storage) -> None:
    with pytest.raises(TypeError):
        await storage.put(new_key(), 12345)  # type: ignore[arg-type]


async def test_file_name_defaults_and_unicode(storage: Storage) -> None:
    key = new_key("résumé final.pdf")
    assert key.endswith("/resume_final.pdf")
    info = await storage.put(key, b"%PDF", content_type="application/pdf")
    assert info.file_name == "resume_final.pdf"
    assert info.content_type == "application/pdf"

    key2 = new_key()
    await storage.put(key2, b"x", content_type="text/plain", file_name="résumé final (2).pdf")
    stat = await storage.stat(key2)
    assert stat is not None
    assert stat.file_name == "résumé final (2).pdf"
    assert stat.content_type == "text/plain"


async def test_default_content_type(storage: Storage) -> None:
    key = new_key()
    info = await storage.put(key, b"x")
    assert info.content_type == "application/octet-stream"
    assert info.file_name == "upload.bin"


async def test_empty_file(storage: Storage) -> None:
    key = new_key("empty")
    info = await storage.put(key, b"")
    assert info.size == 0
    assert info.etag == md5(b"")
    assert await storage.read(key) == b""
    stream = await storage.get(key)
    assert stream.length == 0
    assert [c async for c in stream] == []
    with pytest.raises(InvalidRange):
        await storage.get(key, 0)


async def test_overwrite_replaces(storage: Storage) -> None:
    key = new_key()
    await storage.put(key, b"first version", content_type="text/plain")
    info = await storage.put(key, b"second", content_type="text/csv")
    assert await storage.read(key) == b"second"
    assert await storage.stat(key) == info
    assert info.content_type == "text/csv"


async def test_missing_file(storage: Storage) -> None:
    key = new_key()
    assert await storage.stat(key) is None
    assert not await storage.exists(key)
    with pytest.raises(FileNotFound) as e:
        await storage.get(key)
    assert e.value.key == key
    with pytest.raises(FileNotFound):
        await storage.read(key, 0, 10)
    assert await storage.delete(key) is False


async def test_prefix_of_a_key_is_not_a_file(storage: Storage) -> None:
    key = new_key("x.bin")
    await storage.put(key, b"data")
    directory = key.split("/")[0]
    assert await storage.stat(directory) is None
    with pytest.raises(FileNotFound):
        await storage.get(directory)
    assert await storage.delete(directory) is False
    assert await storage.read(key) == b"data"


async def test_failed_stream_leaves_nothing(storage: Storage) -> None:
    key = new_key()

    async def broken() -> AsyncIterator[bytes]:
        yield b"a" * 1000
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await storage.put(key, broken())
    assert await storage.stat(key) is None


async def test_concurrent_puts(storage: Storage) -> None:
    keys = [new_key(f"f{i}.bin") for i in range(12)]
    await asyncio.gather(*(storage.put(k, f"content {i}".encode()) for i, k in enumerate(keys)))
    contents = await asyncio.gather(*(storage.read(k) for k in keys))
    assert contents == [f"content {i}".encode() for i in range(12)]


# ---------------------------------------------------------------------------- byte ranges


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0, 0, PAYLOAD[:1]),  # first byte
        (100, 199, PAYLOAD[100:200]),  # middle
        (1023, 1023, PAYLOAD[1023:]),  # last byte
        (1000, None, PAYLOAD[1000:]),  # open-ended
        (None, 9, PAYLOAD[:10]),  # from the start
        (0, 10_000, PAYLOAD),  # end clamped to the file
        (None, None, PAYLOAD),  # whole file
    ],
    ids=["first-byte", "middle", "last-byte", "open-ended", "head", "clamped", "whole"],
)
async def test_byte_ranges(
    storage: Storage, start: int | None, end: int | None, expected: bytes
) -> None:
    key = new_key("range.bin")
    await storage.put(key, PAYLOAD)
    assert await storage.read(key, start, end) == expected
    async with await storage.get(key, start, end) as stream:
        assert stream.info.size == len(PAYLOAD)
        assert stream.start == (start or 0)
        assert stream.length == len(expected)
        assert stream.end == stream.start + len(expected) - 1
        assert b"".join([c async for c in stream]) == expected


@pytest.mark.parametrize(("start", "end"), [(1024, None), (2000, 3000), (5, 4), (-1, None)])
async def test_bad_ranges(storage: Storage, start: int | None, end: int | None) -> None:
    key = new_key("range.bin")
    await storage.put(key, PAYLOAD)
    with pytest.raises(InvalidRange):
        await storage.get(key, start, end)


async def test_get_streams_in_chunks(make_storage: MakeStorage) -> None:
    storage = make_storage(chunk_size=1000)
    key = new_key("big.bin")
    data = PAYLOAD * 10  # 10 KiB: at least 11 chunks of <= 1000 bytes
    await storage.put(key, data)
    stream = await storage.get(key)
    received = [chunk async for chunk in stream]
    assert len(received) > 1
    assert all(len(chunk) <= 1000 for chunk in received)
    assert b"".join(received) == data
    assert stream.closed


async def test_stream_closed_early(storage: Storage) -> None:
    key = new_key()
    await storage.put(key, PAYLOAD)
    stream = await storage.get(key)
    await stream.aclose()
    assert stream.closed
    assert [c async for c in stream] == []
    assert await storage.delete(key)


# ---------------------------------------------------------------------------- delete


async def test_delete(storage: Storage) -> None:
    key = new_key("doomed.txt")
    await storage.put(key, b"bye")
    other = new_key("kept.txt")
    await storage.put(other, b"stay")
    assert await storage.delete(key) is True
    assert await storage.stat(key) is None
    with pytest.raises(FileNotFound):
        await storage.read(key)
    assert await storage.delete(key) is False
    assert await storage.read(other) == b"stay"
    # the key can be used again
    await storage.put(key, b"back")
    assert await storage.read(key) == b"back"


# ---------------------------------------------------------------------------- multipart


def parts_data(storage: Storage) -> list[bytes]:
    size = storage.min_part_size
    return [b"A" * size, b"B" * (size + 7), b"tail"]


async def test_multipart_shuffled(storage: Storage) -> None:
    key = new_key("video.mp4")
    data = parts_data(storage)
    expires = now() + 3600
    upload = await storage.create_multipart(key, "video/mp4", "video.mp4", expires)
    etags = {}
    for number in (3, 1, 2):  # upload order does not matter
        source = data[number - 1]
        payload = chunks(source, 1 << 20) if number == 2 else source
        etags[number] = await storage.put_part(key, upload, number, payload)
        assert etags[number] == md5(source)
    assert await storage.stat(key) is None  # not visible before complete

    listed = [(2, etags[2]), (3, etags[3]), (1, etags[1])]
    random.Random(7).shuffle(listed)
    info = await storage.complete_multipart(key, upload, listed)
    joined = b"".join(data)
    assert info.size == len(joined)
    assert info.content_type == "video/mp4"
    assert info.file_name == "video.mp4"
    assert info.expires_at == pytest.approx(expires)
    assert info.etag == multipart_etag([etags[1], etags[2], etags[3]])
    assert await storage.stat(key) == info
    assert hashlib.sha256(await storage.read(key)).digest() == hashlib.sha256(joined).digest()
    size = storage.min_part_size
    assert await storage.read(key, size - 2, size + 1) == b"AABB"


async def test_multipart_quoted_etags_and_reupload(storage: Storage) -> None:
    key = new_key()
    upload = await storage.create_multipart(key)
    await storage.put_part(key, upload, 1, b"old")
    etag = await storage.put_part(key, upload, 1, b"new data")  # replaces part 1
    info = await storage.complete_multipart(key, upload, [(1, f'"{etag}"')])
    assert await storage.read(key) == b"new data"
    assert info.content_type == "application/octet-stream"
    assert info.file_name == key.rsplit("/", 1)[-1]


async def test_multipart_rejects_bad_etags(storage: Storage) -> None:
    key = new_key()
    upload = await storage.create_multipart(key, "text/plain")
    etag = await storage.put_part(key, upload, 1, b"only part")
    with pytest.raises(MultipartError, match="etag"):
        await storage.complete_multipart(key, upload, [(1, "0" * 32)])
    with pytest.raises(MultipartError, match="never uploaded"):
        await storage.complete_multipart(key, upload, [(1, etag), (2, etag)])
    with pytest.raises(MultipartError):
        await storage.complete_multipart(key, upload, [(1, etag), (1, etag)])
    with pytest.raises(MultipartError):
        await storage.complete_multipart(key, upload, [])
    with pytest.raises(MultipartError):
        await storage.complete_multipart(key, upload, [(0, etag)])
    assert await storage.stat(key) is None
    # the upload survives a rejected complete
    info = await storage.complete_multipart(key, upload, [(1, etag)])
    assert info.size == len(b"only part")
    assert await storage.read(key) == b"only part"


async def test_multipart_small_part_rejected(storage: Storage) -> None:
    key = new_key()
    upload = await storage.create_multipart(key)
    e1 = await storage.put_part(key, upload, 1, b"too small")
    e2 = await storage.put_part(key, upload, 2, b"last")
    with pytest.raises(MultipartError, match="at least"):
        await storage.complete_multipart(key, upload, [(1, e1), (2, e2)])
    await storage.abort_multipart(key, upload)


async def test_multipart_unknown_upload(storage: Storage) -> None:
    key = new_key()
    with pytest.raises(MultipartError):
        await storage.put_part(key, "no-such-upload", 1, b"x")
    with pytest.raises(MultipartError):
        await storage.complete_multipart(key, "no-such-upload", [(1, md5(b"x"))])
    await storage.abort_multipart(key, "no-such-upload")  # ignored


async def test_multipart_abort(storage: Storage) -> None:
    key = new_key()
    upload = await storage.create_multipart(key)
    etag = await storage.put_part(key, upload, 1, b"data")
    await storage.abort_multipart(key, upload)
    with pytest.raises(MultipartError):
        await storage.complete_multipart(key, upload, [(1, etag)])
    with pytest.raises(MultipartError):
        await storage.put_part(key, upload, 2, b"more")
    await storage.abort_multipart(key, upload)  # twice is fine
    assert await storage.stat(key) is None


async def test_multipart_bad_part_number(storage: Storage) -> None:
    key = new_key()
    upload = await storage.create_multipart(key)
    for number in (0, 10_001, -1):
        with pytest.raises(MultipartError):
            await storage.put_part(key, upload, number, b"x")
    await storage.abort_multipart(key, upload)


# ---------------------------------------------------------------------------- keys


BAD_KEYS = [
    "../x",
    "/etc/passwd",
    "a//b",
    "a\\b",
    "",
    "a/../b",
    "a/./b",
    "a/",
    "..",
    "a\x00b",
    "a\nb",
    "x" * 600,
]


@pytest.mark.parametrize("key", BAD_KEYS)
async def test_invalid_keys(storage: Storage, key: str) -> None:
    with pytest.raises(InvalidKey):
        await storage.put(key, b"x")
    with pytest.raises(InvalidKey):
        await storage.get(key)
    with pytest.raises(InvalidKey):
        await storage.read(key)
    with pytest.raises(InvalidKey):
        await storage.stat(key)
    with pytest.raises(InvalidKey):
        await storage.delete(key)
    with pytest.raises(InvalidKey):
        await storage.presigned_url(key, 60)
    with pytest.raises(InvalidKey):
        await storage.create_multipart(key)
    with pytest.raises(InvalidKey):
        await storage.put_part(key, "upload", 1, b"x")
    with pytest.raises(InvalidKey):
        await storage.complete_multipart(key, "upload", [(1, "etag")])
    with pytest.raises(InvalidKey):
        await storage.abort_multipart(key, "upload")


async def test_plain_keys_work(storage: Storage) -> None:
    for key in ("plain", "a/b/c.txt", "with space/ü.png", "x" * 200):
        await storage.put(key, key.encode())
        assert await storage.read(key) == key.encode()


# ---------------------------------------------------------------------------- expiry


async def test_expiry_sweep(storage: Storage) -> None:
    t = now()
    old = new_key("old.txt")
    fresh = new_key("fresh.txt")
    forever = new_key("forever.txt")
    await storage.put(old, b"old", expires_at=t - 10)
    await storage.put(fresh, b"fresh", expires_at=t + 3600)
    await storage.put(forever, b"forever")
    info = await storage.stat(old)
    assert info is not None
    assert info.expires_at == pytest.approx(t - 10)

    assert await storage.expired() == [old]
    assert sorted(await storage.expired(t + 7200)) == sorted([old, fresh])

    assert await storage.sweep() == 1
    assert await storage.stat(old) is None
    assert await storage.read(fresh) == b"fresh"
    assert await storage.read(forever) == b"forever"
    assert await storage.sweep() == 0
    assert await storage.expired() == []


async def test_expiry_of_multipart(storage: Storage) -> None:
    key = new_key()
    upload = await storage.create_multipart(key, expires_at=now() - 1)
    etag = await storage.put_part(key, upload, 1, b"gone soon")
    await storage.complete_multipart(key, upload, [(1, etag)])
    assert await storage.expired() == [key]
    assert await storage.sweep() == 1
    assert await storage.stat(key) is None


# ---------------------------------------------------------------------------- max_size


async def test_max_size_put(make_storage: MakeStorage, tmp_path: Path) -> None:
    storage = make_storage(max_size=100)
    ok = new_key()
    await storage.put(ok, b"x" * 100)
    assert await storage.read(ok) == b"x" * 100

    key = new_key()
    with pytest.raises(UploadTooLarge) as e:
        await storage.put(key, b"x" * 101)
    assert e.value.limit == 100
    with pytest.raises(UploadTooLarge):
        await storage.put(key, chunks(b"y" * 1000, 30))
    big = tmp_path / "big"
    big.write_bytes(b"z" * 101)
    with pytest.raises(UploadTooLarge):
        await storage.put(key, big)
    assert await storage.stat(key) is None


async def test_max_size_stream_stops_reading(make_storage: MakeStorage) -> None:
    storage = make_storage(max_size=100)
    pulled = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal pulled
        while True:
            pulled += 1
            yield b"x" * 10

    with pytest.raises(UploadTooLarge):
        await storage.put(new_key(), endless())
    assert pulled == 11


async def test_max_size_multipart(make_storage: MakeStorage) -> None:
    probe = make_storage()
    limit = probe.min_part_size + 10
    storage = make_storage(max_size=limit)
    key = new_key()
    upload = await storage.create_multipart(key)
    with pytest.raises(UploadTooLarge):  # one part alone over the limit
        await storage.put_part(key, upload, 1, b"x" * (limit + 1))
    e1 = await storage.put_part(key, upload, 1, b"x" * storage.min_part_size)
    # the total goes over: refused by put_part (local) or at the latest by complete (S3)
    with pytest.raises(UploadTooLarge) as e:
        e2 = await storage.put_part(key, upload, 2, b"y" * 11)
        await storage.complete_multipart(key, upload, [(1, e1), (2, e2)])
    assert e.value.limit == limit
    assert await storage.stat(key) is None
    await storage.abort_multipart(key, upload)


# ---------------------------------------------------------------------------- presigned URLs


async def test_presigned_url(storage: Storage, backend: str) -> None:
    key = new_key("image.png")
    await storage.put(key, PAYLOAD, content_type="image/png")
    url = await storage.presigned_url(key, 300)
    if backend == "local":
        assert url is None
        return
    assert url is not None
    async with httpx.AsyncClient() as client:
        response = await client.get(url)
        assert response.status_code == 200
        assert response.content == PAYLOAD
        assert response.headers["content-type"] == "image/png"
        partial = await client.get(url, headers={"Range": "bytes=10-19"})
        assert partial.status_code == 206
        assert partial.content == PAYLOAD[10:20]


async def test_presigned_url_bad_expiry(storage: Storage) -> None:
    with pytest.raises(ValueError):
        await storage.presigned_url(new_key(), 0)
