"""The handoff: a new request goes straight to an idle dispatcher of the same process.

When a gateway and a worker share a store object (``openfal serve``), a request submitted
while the app's dispatcher waits for work, with a runner slot free, is stored already
claimed (IN_PROGRESS, leased to that worker, its first attempt counted) and handed to the
dispatcher in memory: one store write instead of insert + claim, and no wake-up.

The guarantees stay those of a claim: the record is durable before the dispatcher starts
it, and its lease expires if the process dies, so housekeeping requeues it like any other
claimed request. A dispatcher registers as a :class:`Taker` of its app while it runs.
"""

from __future__ import annotations

from typing import Any, Protocol


class Taker(Protocol):
    """A dispatcher that can take new requests of one app without claiming them."""

    worker_id: str
    lease_ttl: float

    def reserve(self, hint: str | None) -> Any | None:
        """A runner slot for one new request (held until :meth:`take` or :meth:`release`),
        or None when this taker is busy claiming, stopping or full."""

    def take(self, rec: Any, slot: Any) -> None:
        """Run ``rec`` (stored as claimed by this taker) on the reserved ``slot``."""

    def release(self, slot: Any) -> None:
        """Give back a reserved slot whose request was not stored after all."""


class Handoff:
    """The registry of takers, per app, of one store object."""

    def __init__(self) -> None:
        super().__init__()
        self._takers: dict[str, list[Taker]] = {}

    def register_taker(self, app_id: str, taker: Taker) -> None:
        self._takers.setdefault(app_id, []).append(taker)

    def unregister_taker(self, app_id: str, taker: Taker) -> None:
        takers = self._takers.get(app_id, [])
        if taker in takers:
            takers.remove(taker)
        if not takers:
            self._takers.pop(app_id, None)

    def _reserve(self, app_id: str, hint: str | None) -> tuple[Taker, Any] | None:
        for taker in self._takers.get(app_id, ()):
            slot = taker.reserve(hint)
            if slot is not None:
                return taker, slot
        return None
