"""How a RequestRecord is kept in its Redis hash: one field per record field, None as an
empty string (so a change never needs HDEL), numbers as their repr, JSON fields as JSON."""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from openfal.store.requests import (
    JSON_FIELDS,
    RequestRecord,
    RequestStatus,
    record_to_row,
    row_to_record,
)

_INT_FIELDS = frozenset({"seq", "priority", "attempts", "status_code", "cancel_requested"})
_FLOAT_FIELDS = frozenset(
    {"created_at", "started_at", "completed_at", "start_deadline", "lease_expires"}
)
_NUMBER_FIELDS = _INT_FIELDS | _FLOAT_FIELDS
_BYTES_FIELDS = frozenset({"input", "result"})
_FIELDS = tuple(f.name for f in fields(RequestRecord))
_STR_FIELDS = frozenset(_FIELDS) - _INT_FIELDS - _FLOAT_FIELDS - _BYTES_FIELDS
if not {"id", "app_id", "status", *JSON_FIELDS} <= _STR_FIELDS:  # pragma: no cover
    raise RuntimeError("openfal.store.redis: field types out of sync with RequestRecord")


def _column(name: str, value: Any) -> Any:
    """A changed field as :func:`record_to_row` writes it."""
    if name not in _FIELDS:
        raise KeyError(f"unknown request field {name!r}")
    if value is None:
        return None
    if name == "status":
        return RequestStatus(value).value
    if name in JSON_FIELDS:
        return json.dumps(value)
    if name == "cancel_requested":
        return int(value)
    return value


def _wire(name: str, value: Any) -> bytes | str:
    """A row value (see :func:`record_to_row`) as stored in the hash."""
    if name in _BYTES_FIELDS:
        return bytes(value)
    if name in _INT_FIELDS:
        return str(int(value))
    if name in _FLOAT_FIELDS:
        return repr(float(value))
    return str(value)


def _unwire(raw: dict[bytes, bytes]) -> tuple[RequestRecord, int]:
    """A request hash back to its record, and its version."""
    row: dict[str, Any] = {}
    for name in _FIELDS:
        value = raw.get(name.encode())
        if value is None:
            row[name] = None
        elif name in _BYTES_FIELDS:
            row[name] = bytes(value)
        elif name in _NUMBER_FIELDS and value == b"":  # a number set to None
            row[name] = None
        elif name in _INT_FIELDS:
            row[name] = int(value)
        elif name in _FLOAT_FIELDS:
            row[name] = float(value)
        else:
            row[name] = value.decode()
    if row["cancel_requested"] is None:
        row["cancel_requested"] = 0
    return row_to_record(row), int(raw.get(b"_v", b"0"))


def _pairs(flat: list[bytes]) -> dict[bytes, bytes]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _changes_args(changes: dict[str, Any]) -> list[bytes | str | int]:
    """``nsets, k1, v1, ..., ndels, d1, ...`` as the update script reads them. A number
    set to None is stored as "" (one HSET), other None fields are deleted (if present)."""
    sets: list[bytes | str | int] = []
    dels: list[bytes | str | int] = []
    for name, value in changes.items():
        column = _column(name, value)
        if column is not None:
            sets += [name, _wire(name, column)]
        elif name in _NUMBER_FIELDS:
            sets += [name, ""]
        else:
            dels.append(name)
    return [len(sets) // 2, *sets, len(dels), *dels]


def _size(rec: RequestRecord) -> int:
    """About what a remembered record holds, in bytes."""
    return 512 + len(rec.input) + len(rec.result or b"")


def _merge(rec: RequestRecord, changes: dict[str, Any]) -> RequestRecord:
    """``rec`` with ``changes`` applied, as a read of the stored record returns it."""
    row = record_to_row(rec)
    for name, value in changes.items():
        row[name] = _column(name, value)
    return row_to_record(row)


# ---------------------------------------------------------------------- Lua scripts
#
# ARGV[1] is always the key prefix (see each script for the rest). Values read from
# hashes are passed back to Redis as strings (no float round trips through Lua); numbers
# handed to redis.call are converted by Redis exactly.
