"""Keys, file names, ranges and etags: backend-independent helpers."""

from __future__ import annotations

import re

import pytest

from openfal.filekeys import (
    MAX_FILE_NAME_LENGTH,
)
from openfal.storage import InvalidKey, new_key, safe_file_name, validate_key
from openfal.storage.errors import (
    InvalidRange,
    MultipartError,
)
from openfal.storage.multipart import (
    multipart_etag,
    sort_parts,
)
from openfal.storage.streams import resolve_range


def test_new_key_shape() -> None:
    key = new_key("photo.JPG")
    assert re.fullmatch(r"[0-9a-f]{32}/photo\.JPG", key)
    assert validate_key(key) == key
    assert new_key().endswith("/upload.bin")
    assert new_key("a.png") != new_key("a.png")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("photo.jpg", "photo.jpg"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\cat.png", "cat.png"),
        ("résumé final.pdf", "resume_final.pdf"),
        ("a b\tc?.txt", "a_b_c_.txt"),
        (".hidden", "hidden"),
        ("..", "upload.bin"),
        ("", "upload.bin"),
        (None, "upload.bin"),
        ("日本語", "upload.bin"),
        ("x\x00y", "x_y"),
    ],
)
def test_safe_file_name(name: str | None, expected: str) -> None:
    assert safe_file_name(name) == expected


def test_safe_file_name_truncates_keeping_extension() -> None:
    name = safe_file_name("a" * 300 + ".tar.gz")
    assert len(name) <= MAX_FILE_NAME_LENGTH
    assert name.endswith(".gz")
    assert len(safe_file_name("b" * 300)) == MAX_FILE_NAME_LENGTH


@pytest.mark.parametrize(
    "key", ["../x", "/etc/passwd", "a//b", "a\\b", "", ".", "a/.", "a\x00", "a\x7fb", "é" * 300]
)
def test_validate_key_rejects(key: str) -> None:
    with pytest.raises(InvalidKey):
        validate_key(key)


def test_validate_key_rejects_non_strings() -> None:
    with pytest.raises(InvalidKey):
        validate_key(b"abc")  # type: ignore[arg-type]
    assert issubclass(InvalidKey, ValueError)


@pytest.mark.parametrize("key", ["a", "a/b/c", "x.y-z_1", "with space", "ünïcode/ok", "a..b"])
def test_validate_key_accepts(key: str) -> None:
    assert validate_key(key) == key


@pytest.mark.parametrize(
    ("size", "start", "end", "expected"),
    [
        (10, None, None, (0, 9)),
        (0, None, None, (0, -1)),
        (10, 0, 0, (0, 0)),
        (10, 9, None, (9, 9)),
        (10, None, 3, (0, 3)),
        (10, 5, 100, (5, 9)),
    ],
)
def test_resolve_range(
    size: int, start: int | None, end: int | None, expected: tuple[int, int]
) -> None:
    assert resolve_range(size, start, end) == expected


@pytest.mark.parametrize(
    ("size", "start", "end"), [(10, 10, None), (0, 0, None), (10, 3, 2), (10, -1, 2)]
)
def test_resolve_range_rejects(size: int, start: int | None, end: int | None) -> None:
    with pytest.raises(InvalidRange):
        resolve_range(size, start, end)


def test_sort_parts() -> None:
    assert sort_parts([(3, '"c"'), (1, "a"), (2, 'W/"b"')]) == [(1, "a"), (2, "b"), (3, "c")]
    for bad in ([], [(1, "a"), (1, "b")], [(0, "a")], [(1, "")], [("1", "a")], [(True, "a")]):
        with pytest.raises(MultipartError):
            sort_parts(bad)  # type: ignore[arg-type]


def test_multipart_etag_matches_s3() -> None:
    # md5 of the parts' binary md5s, then -N (md5("hello"), md5("world"))
    etags = ["5d41402abc4b2a76b9719d911017c592", "7d793037a0760186574b0282f2f435e7"]
    assert multipart_etag(etags) == "065947336a2f2a95ba8899f3675c3be6-2"
