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
from openfal.worker.runner_process import RunnerProcess, RunnerState

if TYPE_CHECKING:
    from openfal.worker.supervisor import Supervisor

log = logging.getLogger("openfal.worker")

CLAIM_WAIT = 30.0  # seconds an idle dispatcher waits for a wake-up before it claims anyway


class Dispatcher:
    """Claims, runs and leases: one task per request, on the supervisor's runners."""

    def __init__(self, supervisor: Supervisor) -> None:
        self.sup = supervisor
        self.store, self.worker_id = supervisor.store, supervisor.worker_id
        self.lease_ttl = supervisor.dispatch_cfg.lease_ttl
        self.jobs: set[asyncio.Task[None]] = set()
        self.idle = False  # waiting for work: the last claim found the queue empty

    async def loop(self) -> None:
        """Claim and run requests until the supervisor stops accepting; meanwhile take
        the requests this process submits while the queue is empty (the handoff)."""
        self.store.register_taker(self.sup.app_id, self)
        try:
            while self.sup.accepting:
                try:
                    await self._dispatch_once()
                except Exception as e:  # the store may be restarting: back off, try again
                    log.warning("dispatching %s: %s: %s", self.sup.app_id, type(e).__name__, e)
                    await asyncio.sleep(self.sup.tick * 4)
        finally:
            self.idle = False
            self.store.unregister_taker(self.sup.app_id, self)

    # -- the handoff (openfal.store.handoff.Taker)

    def reserve(self, hint: str | None) -> RunnerProcess | None:
        if not self.idle or not self.sup.accepting:
            return None
        runner = self.sup.free_runner(hint)
        if runner is not None:
            runner.in_flight += 1
        return runner

    def take(self, rec: RequestRecord, slot: RunnerProcess) -> None:
        self._start(slot, rec)

    def release(self, slot: RunnerProcess) -> None:
        slot.in_flight -= 1
        self.sup.slot.set()

    async def _dispatch_once(self) -> None:
        if self.sup.free_runner() is None:
            self.sup.slot.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.sup.slot.wait(), self.sup.tick)
            return
        # as many as there are free slots: a queue that grew drains in a few claims
        recs = await self.store.claim_many(
            [self.sup.app_id], self.worker_id, self._free_slots(), lease_ttl=self.lease_ttl
        )
        if not recs:
            await self._wait_for_work()
            return
        for rec in recs:
            runner = self.sup.free_runner(rec.hint)
            if runner is None:  # it died
                await self._give_back(rec)
                continue
            runner.in_flight += 1
            self._start(runner, rec)

    def _free_slots(self) -> int:
        cap = self.sup.scaling.max_multiplexing
        ready = (r for r in self.sup.runners if r.state is RunnerState.READY)
        return sum(max(0, cap - self.sup.load(r)) for r in ready)

    def _start(self, runner: RunnerProcess, rec: RequestRecord) -> None:
        """Run a claimed request on ``runner``, whose slot it already holds."""
        if self.sup.accepting and runner.state is RunnerState.READY:
            job = asyncio.create_task(self._run(runner, rec))
        else:  # it died meanwhile, or a new revision took over
            job = asyncio.create_task(self._give_back(rec, runner))
        self.jobs.add(job)
        job.add_done_callback(self.jobs.discard)

    async def _give_back(self, rec: RequestRecord, runner: RunnerProcess | None = None) -> None:
        if runner is not None:
            self.release(runner)
        await self.store.requeue(
            rec.id, self.worker_id, "Runner went away", "runner_disconnected", refund_attempt=True
        )

    async def _wait_for_work(self) -> None:
        """Block until a request may be queued (a wake-up, not a poll), a slot frees up or
        the supervisor stops; at most CLAIM_WAIT seconds. Cancelling a wait is harmless,
        unlike cancelling a claim (it may have taken a request)."""
        self.sup.slot.clear()
        work = asyncio.create_task(self.store.wait_for_work(CLAIM_WAIT, [self.sup.app_id]))
        slot = asyncio.create_task(self.sup.slot.wait())
        self.idle = True
        try:
            await asyncio.wait({work, slot}, return_when=asyncio.FIRST_COMPLETED)
            # a freed slot matters only to a stop: the queue was empty at the last claim,
            # and whatever is queued since wakes ``work`` (a handoff's job ending must not
            # cost a claim that finds nothing)
            while not work.done() and self.sup.accepting:
                await asyncio.wait({work}, timeout=self.sup.tick)
        finally:
            self.idle = False
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
