"""LocalStorage specifics: on-disk layout, atomic writes, cleanup."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from openfal.storage import FileNotFound, LocalStorage, StorageError, new_key
from openfal.store.clock import now


def files_under(path: Path) -> list[str]:
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())


async def test_layout_and_sidecar(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    key = new_key("cat.png")
    info = await storage.put(key, b"meow", content_type="image/png", expires_at=123.5)
    assert (tmp_path / "objects" / key).read_bytes() == b"meow"
    sidecar = json.loads((tmp_path / "meta" / f"{key}.json").read_text())
    assert sidecar == {
        "key": key,
        "size": 4,
        "content_type": "image/png",
        "file_name": "cat.png",
        "etag": info.etag,
        "created_at": info.created_at,
        "expires_at": 123.5,
    }
    assert files_under(tmp_path / "tmp") == []  # no temp file left behind


async def test_sidecar_key_cannot_collide(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    await storage.put("a", b"object a")
    await storage.put("a.json", b"object a.json")
    assert await storage.read("a") == b"object a"
    assert await storage.read("a.json") == b"object a.json"


async def test_crash_leftovers_are_invisible_and_swept(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path, stale_after=60)
    await storage.open()
    key = new_key("half.bin")
    # a crash after the data was moved into place but before its sidecar was written
    (tmp_path / "objects" / key).parent.mkdir(parents=True)
    (tmp_path / "objects" / key).write_bytes(b"orphan")
    # a crash in the middle of writing a temp file
    (tmp_path / "tmp" / ".spool-crash.tmp").write_bytes(b"half")
    assert await storage.stat(key) is None
    with pytest.raises(FileNotFound):
        await storage.get(key)
    assert await storage.expired() == []

    assert await storage.sweep() == 0
    assert (tmp_path / "tmp" / ".spool-crash.tmp").exists()  # young: maybe still being written
    assert await storage.sweep(now() + 120) == 0
    assert files_under(tmp_path / "tmp") == []


async def test_failed_put_cleans_its_temp_file(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)

    async def broken() -> AsyncIterator[bytes]:
        yield b"x" * 10
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await storage.put(new_key(), broken())
    assert files_under(tmp_path) == []


async def test_delete_prunes_empty_directories(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    key = new_key("x.txt")
    await storage.put(key, b"x")
    await storage.delete(key)
    assert list((tmp_path / "objects").iterdir()) == []
    assert list((tmp_path / "meta").iterdir()) == []


async def test_multipart_folder(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path, min_part_size=4)
    key = new_key("joined.txt")
    upload = await storage.create_multipart(key, "text/plain")
    folder = tmp_path / "uploads" / upload
    e2 = await storage.put_part(key, upload, 2, b"world")
    e1 = await storage.put_part(key, upload, 1, b"hello ")
    assert sorted(p.name for p in folder.iterdir()) == [
        "00001.json",
        "00001.part",
        "00002.json",
        "00002.part",
        "manifest.json",
    ]
    await storage.complete_multipart(key, upload, [(2, e2), (1, e1)])
    assert await storage.read(key) == b"hello world"
    assert not folder.exists()
    assert files_under(tmp_path / "tmp") == []


async def test_upload_id_cannot_escape(tmp_path: Path) -> None:
    from openfal.storage import MultipartError

    storage = LocalStorage(tmp_path)
    key = new_key()
    for upload in ("../objects", "../../etc", "", "A" * 32):
        with pytest.raises(MultipartError):
            await storage.put_part(key, upload, 1, b"x")
        await storage.abort_multipart(key, upload)
    other = await storage.create_multipart(new_key())
    with pytest.raises(MultipartError, match="not for key"):  # another key's upload
        await storage.put_part(key, other, 1, b"x")


async def test_stale_uploads_swept(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path, stale_after=60)
    key = new_key()
    upload = await storage.create_multipart(key)
    await storage.put_part(key, upload, 1, b"x")
    await storage.sweep()
    assert (tmp_path / "uploads" / upload).exists()
    await storage.sweep(now() + 120)
    assert not (tmp_path / "uploads" / upload).exists()


async def test_key_prefix_clash(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    await storage.put("a/b", b"x")
    with pytest.raises(StorageError, match="clashes"):
        await storage.put("a", b"y")
    await storage.put("c", b"x")
    with pytest.raises(StorageError, match="clashes"):
        await storage.put("c/d", b"y")
    assert await storage.read("a/b") == b"x"
    assert await storage.read("c") == b"x"


async def test_stream_holds_the_open_file(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path, chunk_size=4)
    key = new_key()
    await storage.put(key, b"0123456789")
    stream = await storage.get(key)
    first = await stream.__anext__()
    await storage.put(key, b"replaced")  # atomic replace: the open stream keeps the old file
    rest = b"".join([c async for c in stream])
    assert first + rest == b"0123456789"
    assert await storage.read(key) == b"replaced"


async def test_no_fsync_option(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path, fsync=False)
    key = new_key()
    await storage.put(key, b"fast")
    assert await storage.read(key) == b"fast"


async def test_unreadable_sidecar_is_an_error(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    key = new_key()
    await storage.put(key, b"x")
    (tmp_path / "meta" / f"{key}.json").write_text("{not json")
    with pytest.raises(StorageError, match="unreadable"):
        await storage.stat(key)
    assert await storage.expired() == []  # a bad sidecar does not break the sweep
    os.unlink(tmp_path / "meta" / f"{key}.json")
    assert await storage.stat(key) is None


async def test_streamed_put_writes_batches_in_order(tmp_path: Path) -> None:
    import hashlib

    storage = LocalStorage(tmp_path, chunk_size=64)  # many batches, written while receiving
    data = bytes(range(256)) * 200

    async def pieces() -> AsyncIterator[bytes]:
        for i in range(0, len(data), 37):
            yield data[i : i + 37]

    key = new_key()
    info = await storage.put(key, pieces())
    assert await storage.read(key) == data
    assert info.etag == hashlib.md5(data).hexdigest() and info.size == len(data)


async def test_a_stream_failing_midway_leaves_nothing(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path, chunk_size=64)

    async def broken() -> AsyncIterator[bytes]:
        for _ in range(50):
            yield b"x" * 50
        raise ConnectionError("client went away")

    key = new_key()
    with pytest.raises(ConnectionError):
        await storage.put(key, broken())
    assert await storage.stat(key) is None
    assert not [p for p in (tmp_path / "tmp").iterdir()]
