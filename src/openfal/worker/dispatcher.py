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
            [self.sup.app_id],
            self.worker_id,
            lease_ttl=self.sup.dispatch_cfg.lease_ttl,
            timeout=self.sup.tick,
        )
        if rec is None:
            return
        runner = self.sup.free_runner(rec.hint)
        if runner is None:  # it died while we waited for work: try again elsewhere
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
