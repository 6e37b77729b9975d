"""What one Redis store process knows of requests, kept so that it need not ask Redis.

Two bounded LRU maps, per request id:

- ``records``: the record this process last wrote or read, with its version (``_v``). A
  completed one is served from here until its retention may have run out (it changes no
  more); an update passes the version, and Redis sends the record back only when it moved
  on since. At most ``keep`` records and about ``keep_bytes`` of their inputs and results.
- ``versions``: the latest version heard of (from a message, a change made here, a read by
  the watch script), and the pub/sub epoch when this process was known to be in the
  record's ``_w`` (every later change reaches it then), else -1. At most ``keep`` entries.
"""

from __future__ import annotations

from collections import OrderedDict

from openfal.store.redis.codec import _size
from openfal.store.requests import RequestRecord

KEEP = 4096  # records (and versions heard of) remembered per process
KEEP_BYTES = 64 * 2**20  # and at most about this much of their inputs and results


class Known:
    def __init__(self, keep: int = KEEP, keep_bytes: int = KEEP_BYTES) -> None:
        self.keep, self.keep_bytes = keep, keep_bytes
        self.records: OrderedDict[str, tuple[RequestRecord, int]] = OrderedDict()
        self.bytes = 0  # the inputs and results of ``records``, about
        self.versions: OrderedDict[str, tuple[int, int]] = OrderedDict()

    def remember(self, rec: RequestRecord, version: int) -> None:
        self.forget(rec.id)
        self.records[rec.id] = (rec, version)
        self.bytes += _size(rec)
        while len(self.records) > self.keep or self.bytes > self.keep_bytes:
            self.forget(next(iter(self.records)))

    def forget(self, request_id: str) -> None:
        """Forget the record (its version heard of stays)."""
        found = self.records.pop(request_id, None)
        if found is not None:
            self.bytes -= _size(found[0])

    def deleted(self, request_id: str) -> None:
        """The request is gone: forget its record and its version."""
        self.forget(request_id)
        self.versions.pop(request_id, None)

    def record(self, request_id: str) -> tuple[RequestRecord, int] | None:
        return self.records.get(request_id)

    def done(self, request_id: str, completed_after: float) -> tuple[RequestRecord, int] | None:
        """The completed record remembered for ``request_id``, when it completed after
        ``completed_after`` (else retention may have purged it)."""
        found = self.records.get(request_id)
        if found is None or not found[0].is_done:
            return None
        completed_at = found[0].completed_at
        if completed_at is None or completed_at < completed_after:
            return None
        return found

    def heard(self, request_id: str, version: int, epoch: int | None = None) -> None:
        """``version`` of the request exists (a lower bound of its latest); with ``epoch``,
        this process was in its ``_w`` and subscribed then (changes reach it from then)."""
        known = self.versions.get(request_id)
        if known is not None:
            version = max(version, known[0])
            if epoch is None:
                epoch = known[1]
        self.versions[request_id] = (version, -1 if epoch is None else epoch)
        self.versions.move_to_end(request_id)
        if len(self.versions) > self.keep:
            self.versions.popitem(last=False)

    def heard_of(self, request_id: str) -> tuple[int, int] | None:
        """(the latest version heard of, the epoch from which changes reach this process
        or -1), or None when nothing was heard of the request (or it was forgotten)."""
        return self.versions.get(request_id)
