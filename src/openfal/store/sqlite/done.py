"""Completed requests this process finished, kept in memory for the reads that follow.

A completed record never changes again; it only disappears, when the retention purge
deletes it (in this process or another). So a record this process completed answers
``get`` from memory until its retention may have run out: the status stream's last read
and the result read of a queued request cost no query. Bounded by count and bytes.
"""

from __future__ import annotations

from collections import OrderedDict

from openfal.store.records import RequestRecord

KEEP = 4096  # records
KEEP_BYTES = 64 * 2**20  # and about this much of their inputs and results


def _size(rec: RequestRecord) -> int:
    return 512 + len(rec.input) + len(rec.result or b"")


class DoneRecords:
    def __init__(self) -> None:
        self._recs: OrderedDict[str, RequestRecord] = OrderedDict()
        self._bytes = 0

    def keep(self, rec: RequestRecord) -> None:
        self.forget(rec.id)
        self._recs[rec.id] = rec
        self._bytes += _size(rec)
        while len(self._recs) > KEEP or self._bytes > KEEP_BYTES:
            self.forget(next(iter(self._recs)))

    def forget(self, request_id: str) -> None:
        rec = self._recs.pop(request_id, None)
        if rec is not None:
            self._bytes -= _size(rec)

    def get(self, request_id: str, oldest: float) -> RequestRecord | None:
        """The record, unless it completed before ``oldest`` (a purge may have taken it)."""
        rec = self._recs.get(request_id)
        if rec is None:
            return None
        if rec.completed_at is None or rec.completed_at < oldest:
            self.forget(request_id)
            return None
        return rec
