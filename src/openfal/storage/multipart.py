"""Multipart uploads: part numbers, etags, and whether the parts fit together (S3's rules,
which the local backend follows too)."""

from __future__ import annotations

from collections.abc import Mapping

from openfal.storage.errors import MultipartError
from openfal.storage.spool import md5

__all__ = [
    "MAX_PART_NUMBER",
    "MIN_PART_SIZE",
    "check_part_number",
    "check_parts_fit",
    "multipart_etag",
    "normalize_etag",
    "sort_parts",
]

MIN_PART_SIZE = 5 * 1024 * 1024  # S3's minimum size of every multipart part but the last
MAX_PART_NUMBER = 10_000


def multipart_etag(part_etags: list[str]) -> str:
    """S3's etag of a multipart object: md5 of the parts' binary md5s, then ``-N``."""
    digest = md5()
    for etag in part_etags:
        try:
            digest.update(bytes.fromhex(etag))
        except ValueError:
            digest.update(etag.encode())
    return f"{digest.hexdigest()}-{len(part_etags)}"


def normalize_etag(etag: str) -> str:
    etag = etag.strip()
    if etag.startswith("W/"):
        etag = etag[2:]
    return etag.strip('"')


def sort_parts(parts: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Parts sorted by number with normalized etags; rejects empty/duplicate/bad entries."""
    if not parts:
        raise MultipartError("a multipart upload needs at least one part")
    seen: set[int] = set()
    result: list[tuple[int, str]] = []
    for entry in parts:
        try:
            number, etag = entry
        except (TypeError, ValueError):
            raise MultipartError(
                f"parts must be (part_number, etag) pairs, not {entry!r}"
            ) from None
        check_part_number(number)
        if number in seen:
            raise MultipartError(f"part {number} is listed twice")
        if not isinstance(etag, str) or not normalize_etag(etag):
            raise MultipartError(f"part {number} has no etag")
        seen.add(number)
        result.append((number, normalize_etag(etag)))
    result.sort()
    return result


def check_part_number(number: object) -> int:
    if isinstance(number, bool) or not isinstance(number, int):
        raise MultipartError(f"part numbers must be integers, not {number!r}")
    if not 1 <= number <= MAX_PART_NUMBER:
        raise MultipartError(f"part number {number} is outside 1..{MAX_PART_NUMBER}")
    return number


def check_parts_fit(
    key: str,
    wanted: list[tuple[int, str]],
    uploaded: Mapping[int, Mapping[str, int]],
    min_part_size: int,
) -> int:
    """Check that every wanted part was uploaded with that etag; return the total size.

    ``uploaded`` maps part number to ``{etag: size}`` (a backend may report several
    versions of a re-uploaded part: the wanted etag picks one). Every part but the last
    must be at least ``min_part_size`` bytes, as on S3.
    """
    sizes: list[int] = []
    for number, etag in wanted:
        versions = {normalize_etag(e): size for e, size in uploaded.get(number, {}).items()}
        if not versions:
            raise MultipartError(f"part {number} of {key!r} was never uploaded")
        if etag not in versions:
            raise MultipartError(
                f"part {number} of {key!r} has etag {', '.join(sorted(versions))}, not {etag!r}"
            )
        sizes.append(versions[etag])
    for (number, _), size in zip(wanted[:-1], sizes[:-1], strict=True):
        if size < min_part_size:
            raise MultipartError(
                f"part {number} of {key!r} is {size} bytes: every part but the last "
                f"must be at least {min_part_size} bytes"
            )
    return sum(sizes)
