"""Request history for the in-process store (tests): a scan of every request.

The memory backend holds what one test creates, so a page is an O(n) selection of the
newest matching records rather than an index walk.
"""

from __future__ import annotations

import heapq

from openfal.store.history import HistoryQuery, HistoryStore
from openfal.store.requests import RequestRecord


class MemoryHistory(HistoryStore):
    _requests: dict[str, RequestRecord]

    async def _history(self, query: HistoryQuery) -> list[RequestRecord]:
        matching = (r for r in self._requests.values() if query.admits(r))
        return heapq.nlargest(query.limit, matching, key=lambda r: (r.created_at, r.seq))
