"""Deployments, revisions, secrets and line logs of the in-process store.

Hooks never await, so each compare-and-swap is atomic on the event loop.
"""

from __future__ import annotations

import json
from typing import Any

from openfal.store.deploy import DeployStore, encode


class MemoryDeploy(DeployStore):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._docs: dict[tuple[str, str], str] = {}
        self._blobs: dict[str, bytes] = {}
        self._lines: dict[str, tuple[int, list[str]]] = {}  # log -> (lines dropped, kept)

    async def _doc_get(self, kind: str, key: str) -> dict[str, Any] | None:
        raw = self._docs.get((kind, key))
        return None if raw is None else _load(raw)

    async def _doc_items(self, kind: str) -> list[tuple[str, dict[str, Any]]]:
        return [(key, _load(raw)) for (k, key), raw in self._docs.items() if k == kind]

    async def _doc_swap(
        self, kind: str, key: str, expect: dict[str, Any] | None, new: dict[str, Any]
    ) -> bool:
        if self._docs.get((kind, key)) != encode(expect):
            return False
        self._docs[(kind, key)] = encode(new) or ""
        return True

    async def _doc_delete(self, kind: str, key: str) -> bool:
        return self._docs.pop((kind, key), None) is not None

    async def _blob_put(self, key: str, data: bytes) -> None:
        self._blobs[key] = bytes(data)

    async def _blob_get(self, key: str) -> bytes | None:
        return self._blobs.get(key)

    async def _blob_delete(self, key: str) -> None:
        self._blobs.pop(key, None)

    async def _log_append(self, log: str, lines: list[str], limit: int) -> None:
        dropped, kept = self._lines.get(log, (0, []))
        kept = kept + list(lines)
        extra = max(0, len(kept) - limit)
        self._lines[log] = (dropped + extra, kept[extra:])

    async def _log_get(self, log: str, since: int) -> list[str]:
        dropped, kept = self._lines.get(log, (0, []))
        return list(kept[max(0, since - dropped) :])

    async def _log_delete(self, log: str) -> None:
        self._lines.pop(log, None)


def _load(raw: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(raw)
    return data
