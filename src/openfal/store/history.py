"""Request history: one page of requests, newest first, with a keyset cursor.

A page is ordered by ``(created_at, seq)`` descending; ``seq`` is unique per store, so
the pair is a total order and the cursor is simply the pair of the last request shown.
The next page asks for requests strictly before it, which every backend answers from an
index in time proportional to the page (SQLite: ``(created_at, seq)`` indexes per owner
and per app; Redis: the ``created`` sorted sets), however many requests exist.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from openfal.store.requests import RequestRecord, RequestStatus

Cursor = tuple[float, int]  # (created_at, seq) of the last request already shown


@dataclass(frozen=True)
class HistoryQuery:
    """Which requests to list. ``since`` is inclusive and ``until`` exclusive (epoch
    seconds, on ``created_at``); ``before``: only requests older than this cursor."""

    app_id: str | None = None
    status: RequestStatus | None = None
    owner: str | None = None
    since: float | None = None
    until: float | None = None
    before: Cursor | None = None
    limit: int = 50

    def admits(self, rec: RequestRecord) -> bool:
        return (
            (self.app_id is None or rec.app_id == self.app_id)
            and (self.status is None or rec.status is self.status)
            and (self.owner is None or rec.owner == self.owner)
            and (self.since is None or rec.created_at >= self.since)
            and (self.until is None or rec.created_at < self.until)
            and (self.before is None or (rec.created_at, rec.seq) < self.before)
        )


@dataclass(frozen=True)
class HistoryPage:
    items: list[RequestRecord]
    next: Cursor | None  # None: this was the last page


class HistoryStore(abc.ABC):
    async def history(self, query: HistoryQuery) -> HistoryPage:
        """One page of requests matching ``query``, newest first."""
        if query.limit <= 0:
            return HistoryPage([], None)
        found = await self._history(replace(query, limit=query.limit + 1))
        items = found[: query.limit]
        more = len(found) > query.limit
        return HistoryPage(items, (items[-1].created_at, items[-1].seq) if more else None)

    @abc.abstractmethod
    async def _history(self, query: HistoryQuery) -> list[RequestRecord]:
        """Up to ``query.limit`` records the query admits, by (created_at, seq) descending."""
