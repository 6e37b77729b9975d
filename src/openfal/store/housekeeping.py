"""Periodic store upkeep that every gateway and worker runs.

Each step is safe to run in many processes at once (compare-and-set changes), so the
cluster needs no leader: as long as one process is alive, expired leases are requeued,
old results purged and the records of dead runners dropped.
"""

from __future__ import annotations

import asyncio
import logging

from openfal.store.contract import Store

log = logging.getLogger("openfal.store")


async def housekeeping(store: Store, interval: float = 10.0, purge_interval: float = 60.0) -> None:
    """Run until cancelled: requeue expired leases every ``interval`` seconds (callers
    pass a fraction of the lease TTL: a third of the default 30 s here); purge old results
    and expired runner records every ``purge_interval`` seconds."""
    loop = asyncio.get_running_loop()
    next_purge = loop.time()
    while True:
        try:
            requeued = await store.requeue_expired()
            if requeued:
                log.warning("requeued %d request(s) whose lease expired", len(requeued))
            if loop.time() >= next_purge:
                next_purge = loop.time() + purge_interval
                await store.purge_completed()
                await store.purge_expired_runners()
        except Exception as e:  # the store may be restarting: try again next round
            log.warning("store housekeeping failed: %s: %s", type(e).__name__, e)
        await asyncio.sleep(interval)
