"""The dispatcher of one app: claims its requests with a lease and runs each on a free
runner of its :class:`~openfal.worker.supervisor.Supervisor`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

from openfal.store import RequestRecord
from openfal.worker.job import run_request
from openfal.worker.runner_process import RunnerProcess

if TYPE_CHECKING:
    from openfal.worker.supervisor import Supervisor

log = logging.getLogger("openfal.worker")

CLAIM_WAIT = 2.0  # seconds one claim waits for work before the loop looks around again


class Dispatcher:
    """Claims, runs and leases: one task per request, on the supervisor's runners."""

    def __init__(self, supervisor: Supervisor) -> None:
        self.sup = supervisor
        self.store, self.worker_id = supervisor.store, supervisor.worker_id
        self.jobs: set[asyncio.Task[None]] = set()

    async def loop(self) -> None:
        """Claim and run requests until the supervisor stops accepting."""
        while self.sup.accepting:
            try:
                await self._dispatch_once()
            except Exception as e:  # the store may be restarting: back off, try again
                log.warning("dispatching %s: %s: %s", self.sup.app_id, type(e).__name__, e)
                await asyncio.sleep(self.sup.tick * 4)

    async def _dispatch_once(self) -> None:
        if self.sup.free_runner() is None:
            self.sup.slot.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.sup.slot.wait(), self.sup.tick)
            return
        rec = await self.store.claim(
            [self.sup.app_id], self.worker_id, lease_ttl=self.sup.dispatch_cfg.lease_ttl
        )
        if rec is None:
            await self._wait_for_work()
            return
        runner = self.sup.free_runner(rec.hint)
        if runner is None or not self.sup.accepting:  # it died, or a new revision took over
            await self.store.requeue(
                rec.id,
                self.worker_id,
                "Runner went away",
                "runner_disconnected",
                refund_attempt=True,
            )
            return
        runner.in_flight += 1
        job = asyncio.create_task(self._run(runner, rec))
        self.jobs.add(job)
        job.add_done_callback(self.jobs.discard)

    async def _wait_for_work(self) -> None:
        """Block until a request may be queued (a wake-up, not a poll), a slot frees up or
        the supervisor stops; at most CLAIM_WAIT seconds. Cancelling a wait is harmless,
        unlike cancelling a claim (it may have taken a request)."""
        self.sup.slot.clear()
        work = asyncio.create_task(self.store.wait_for_work(CLAIM_WAIT, [self.sup.app_id]))
        slot = asyncio.create_task(self.sup.slot.wait())
        try:
            await asyncio.wait({work, slot}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (work, slot):
                task.cancel()
            await asyncio.gather(work, slot, return_exceptions=True)

    async def _run(self, runner: RunnerProcess, rec: RequestRecord) -> None:
        healthy = True
        try:
            healthy = await run_request(
                self.store, self.sup.http, runner, rec, self.worker_id, self.sup.dispatch_cfg
            )
        except asyncio.CancelledError:
            # worker shutdown: give the request back without counting the attempt
            await asyncio.shield(
                self.store.requeue(
                    rec.id,
                    self.worker_id,
                    "Worker stopped",
                    "runner_disconnected",
                    refund_attempt=True,
                )
            )
            raise
        except Exception:
            log.exception("dispatching %s failed", rec.id)
            await self.store.requeue(rec.id, self.worker_id, "Worker error", "internal_error")
        finally:
            runner.in_flight -= 1
            runner.last_used = time.monotonic()
            self.sup.slot.set()
        if not healthy and runner.alive:
            log.warning("restarting runner %s of %s", runner.id, self.sup.app_id)
            await runner.kill()
