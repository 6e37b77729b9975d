"""The worker side of deployed apps: build, warm up, switch, drain; live scaling.

Every worker keeps its pools in line with the store's deployments (:meth:`Deployer.sync`,
whenever the store announces a change, and every ``interval`` seconds in case one was
missed). When an app's current revision is not the one this worker serves, a rollout:

1. unpacks the revision's source under ``revisions_dir/REV`` and builds (or finds) its
   environment, streaming the output to the revision's build log;
2. describes the app in that environment (its settings and endpoint schemas);
3. ``rolling`` with a runner of the old revision READY: starts one runner of the new
   revision beside the old ones (a surge of one), claiming nothing; once it is healthy,
   the old pool stops claiming and the new one starts, in the same event-loop step, so
   no request is claimed by the old revision after the switch. ``recreate`` (or an app
   scaled to zero) switches at once;
4. the old pool drains: requests it runs finish there, then its runners stop.

A revision whose build, description or first runner fails is marked FAILED with the
error; the store then points the app back at the revision that served, which never
stopped serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from openfal.deploy.envs import BuildError, Environments
from openfal.deploy.secrets import ENV_NAMES, Redactor, SecretBox, SecretError
from openfal.deploy.source import SourceError, unpack
from openfal.errors import OpenfalError
from openfal.store import AppRecord, LogEntry, RequestStatus, Store
from openfal.store.deploy import Deployment, Revision, RevisionState
from openfal.worker.launch import Launch
from openfal.worker.runner_process import RunnerProcess, RunnerState
from openfal.worker.supervisor import MAX_START_FAILURES, Supervisor
from openfal.worker.worker import Worker

log = logging.getLogger("openfal.deploy")

REV_PREFIX = "rev:"
WARMUP_ATTEMPTS = 2


def revision_of(app: AppRecord) -> str | None:
    return app.source.removeprefix(REV_PREFIX) if app.source.startswith(REV_PREFIX) else None


class RolloutFailed(OpenfalError):
    """A revision's app did not load or its runners did not start."""


class Deployer:
    """Deployed apps on one worker (``openfal serve`` or ``openfal worker``)."""

    def __init__(
        self,
        store: Store,
        envs: Environments,
        revisions_dir: Path,
        box: SecretBox | None,
        *,
        interval: float = 10.0,
    ) -> None:
        self.store, self.envs, self.box = store, envs, box
        self._worker: Worker | None = None
        self.revisions_dir = revisions_dir
        self.interval = interval
        self.serving: dict[str, str] = {}  # app id -> revision this worker serves
        self.redact = Redactor()
        self._prepared: dict[str, tuple[str, str]] = {}  # revision -> (runner ref, python)
        self._rollouts: dict[str, asyncio.Task[None]] = {}
        self._base: dict[str, dict[str, Any]] = {}  # app id -> settings before `scale`
        self._output: list[tuple[RunnerProcess, str, bool]] = []  # runner, line, starting
        self._task: asyncio.Task[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        # set by a line of a starting runner: the requests waiting for it see the line
        # before it is ready and runs them, not up to a flush period later
        self._booting_line = asyncio.Event()
        self._guards: set[asyncio.Task[None]] = set()  # cold switches, until a runner is up
        self._audience: dict[str, list[str]] = {}  # app id -> requests waiting on its start
        self._logged: dict[RunnerProcess, float | None] = {}  # runner -> when it ended

    # ------------------------------------------------------------------ hooks for the worker

    async def launch(self, app: AppRecord) -> Launch:
        """How a runner of ``app`` starts here: its revision's code and interpreter, with
        the secrets in its environment."""
        env = await self.secret_env()
        rev = revision_of(app)
        if rev is None:
            return Launch(ref=app.source, env=env)
        waiting = await self.store.list_requests(
            app_id=app.app_id, status=RequestStatus.IN_QUEUE, limit=50
        )
        self._audience[app.app_id] = [r.id for r in waiting]  # they see its setup output
        await self._tell(app.app_id, f"starting a runner for {app.app_id} (revision {rev})")
        ref, python = self._prepared[rev]
        return Launch(ref=ref, python=python, env=env)

    def on_output(self, runner: RunnerProcess, stream: str, line: str) -> None:
        """A line a runner printed: redacted, shown on this process's own output as
        before, and kept in the runner's log (and, while it starts, in the logs of the
        requests waiting for it)."""
        line = self.redact(line)
        print(line, file=sys.stdout if stream == "stdout" else sys.stderr, flush=True)
        starting = runner.state is RunnerState.STARTING
        self._output.append((runner, line, starting))
        if starting:
            self._booting_line.set()

    async def secret_env(self) -> dict[str, str]:
        records = await self.store.list_secrets()
        if records and self.box is None:
            log.warning("secrets are set but this worker has no OPENFAL_SECRETS_KEY: not passed")
        if not records or self.box is None:
            return {}
        env: dict[str, str] = {}
        for rec in records:
            try:
                env[rec.name] = self.box.decrypt(rec.ciphertext)
            except SecretError as e:
                log.error("secret %s: %s", rec.name, e)
        self.redact.update(list(env.values()))
        return {**env, ENV_NAMES: ",".join(env)}

    # ------------------------------------------------------------------ the loop

    @property
    def worker(self) -> Worker:
        assert self._worker is not None, "start() the deployer first"
        return self._worker

    def start(self, worker: Worker) -> None:
        """Serve deployed apps on ``worker`` (made with :meth:`launch` and :meth:`on_output`
        as its hooks)."""
        self._worker = worker
        self._task = asyncio.create_task(self._loop())
        self._flusher = asyncio.create_task(self._flush_loop())

    async def stop(self) -> None:
        tasks = [t for t in [self._task, self._flusher, *self._rollouts.values()] if t]
        tasks += list(self._guards)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self._flush()

    async def _loop(self) -> None:
        while True:
            try:
                await self.sync()
            except Exception as e:  # the store may be restarting
                log.warning("deploy sync failed: %s: %s", type(e).__name__, e)
            await self.store.wait_for_deploy_change(self.interval)

    async def _flush_loop(self) -> None:
        while True:
            self._booting_line.clear()  # before: a line that comes during the flush counts
            try:
                await self._flush()
            except Exception as e:  # the store may be restarting
                log.warning("keeping runner output failed: %s: %s", type(e).__name__, e)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._booting_line.wait(), 0.1)

    async def sync(self) -> None:
        deployments = {d.app_id: d for d in await self.store.list_deployments()}
        for app_id in list(self.serving):
            if app_id not in deployments:
                log.info("app %s was deleted: draining it", app_id)
                self.serving.pop(app_id, None)
                await self.worker.remove_app(app_id)
        for dep in deployments.values():
            if dep.current and dep.current != self.serving.get(dep.app_id):
                self._roll(dep)
            self._apply_scaling(dep)
        await self._kill_asked()

    async def _kill_asked(self) -> None:
        mine = {
            r.id: r
            for pool in [*self.worker.pools.values(), *self.worker.warming]
            for r in pool.runners
        }
        for runner_id in await self.store.take_kills(set(mine)):
            log.warning("runner %s killed on request", runner_id)
            await mine[runner_id].kill()

    def _roll(self, dep: Deployment) -> None:
        running = self._rollouts.get(dep.app_id)
        if running is not None and not running.done():
            return
        assert dep.current is not None
        task = asyncio.create_task(self.rollout(dep.app_id, dep.current))
        self._rollouts[dep.app_id] = task

    def _apply_scaling(self, dep: Deployment) -> None:
        pool = self.worker.pools.get(dep.app_id)
        if pool is None:
            return
        base = self._base.setdefault(dep.app_id, dict(pool.app.settings))
        merged = {**base, **dep.scaling}
        if merged != pool.app.settings:
            record = replace(pool.app, settings=merged)
            pool.reconfigure(record)
            log.info("app %s: scaling %s", dep.app_id, dep.scaling)
            task = asyncio.create_task(self.store.register_app(record))
            task.add_done_callback(lambda t: t.exception())

    # ------------------------------------------------------------------ one rollout

    async def rollout(self, app_id: str, revision: str) -> None:
        rev = await self.store.get_revision(revision)
        if rev is None or rev.state is RevisionState.FAILED:
            return  # the store points the app back at the live revision
        build_log = BuildLog(self.store, revision)
        previous = self.serving.get(app_id)
        try:
            rev = await self._prepare(rev, build_log)
            dep = await self.store.get_deployment(app_id)
            scaling = dep.scaling if dep is not None else {}
            record = AppRecord(
                app_id=app_id,
                source=REV_PREFIX + revision,
                settings={**rev.settings, **scaling},
                endpoints=rev.endpoints,
            )
            pool = await self._switch(record, rev, build_log)
        except Exception as e:
            if not isinstance(e, BuildError | SourceError | RolloutFailed):
                log.exception("rollout of %s revision %s", app_id, revision)
            await self._failed(app_id, revision, previous, str(e), build_log)
            return
        await build_log.flush()
        if pool is not None:  # a cold switch: a revision whose runners never start goes back
            guard = asyncio.create_task(self._guard_cold(pool, revision, previous))
            self._guards.add(guard)
            guard.add_done_callback(self._guards.discard)

    async def _failed(
        self, app_id: str, revision: str, previous: str | None, error: str, build_log: BuildLog
    ) -> None:
        first = error.splitlines()[0] if error else "failed"
        await build_log.line(f"deploy of revision {revision} failed: {first}")
        if not error.startswith("uv "):
            for line in error.splitlines()[1:]:  # not streamed already, as uv's output was
                await build_log.line(line)
        await build_log.flush()
        log.error("app %s revision %s failed: %s", app_id, revision, error)
        await self.store.fail_revision(revision, error)
        dep = await self.store.get_deployment(app_id)
        if previous and dep is not None and dep.current == revision:
            await self.store.set_current_revision(app_id, previous)  # it had switched cold

    async def _guard_cold(self, pool: Supervisor, revision: str, previous: str | None) -> None:
        while pool.failed_starts < MAX_START_FAILURES:
            if any(r.state is RunnerState.READY for r in pool.runners):
                return
            if self.worker.pools.get(pool.app_id) is not pool:
                return
            await asyncio.sleep(0.1)
        error = f"its runners did not start: {pool.start_error}"
        await self._failed(pool.app_id, revision, previous, error, BuildLog(self.store, revision))

    async def _prepare(self, rev: Revision, build_log: BuildLog) -> Revision:
        dest = self.revisions_dir / rev.revision
        if rev.revision not in self._prepared or not dest.exists():
            data = await self.store.revision_source(rev.revision)
            if data is None:
                raise SourceError(f"revision {rev.revision} has no source in the store")
            ref = await asyncio.to_thread(unpack, data, rev.archive, rev.entry, dest)
            python = await self.envs.ensure(
                rev.env_key, rev.requirements, rev.python_version, build_log.line
            )
            self._prepared[rev.revision] = (ref, python)
        ref, python = self._prepared[rev.revision]
        if not rev.endpoints:
            await build_log.line(f"describing {rev.entry}")
            described = await describe(python, ref, await self.secret_env())
            found = await self.store.update_revision(
                rev.revision, settings=described["settings"], endpoints=described["endpoints"]
            )
            rev = found or rev
        return rev

    async def _switch(
        self, record: AppRecord, rev: Revision, build_log: BuildLog
    ) -> Supervisor | None:
        """Serve ``record`` from a new pool; answers it when it switched cold."""
        old = self.worker.pools.get(record.app_id)
        new = self.worker.new_pool(record)
        warm = (
            rev.strategy == "rolling"
            and old is not None
            and any(r.state is RunnerState.READY for r in old.runners)
        )
        if warm:
            await build_log.line("starting a runner of the new revision beside the old ones")
            await self._warm_up(new)
        # from here to new.start(): no await, so no claim by the old pool after the switch
        self.worker.warming.discard(new)
        self.worker.pools[record.app_id] = new
        if old is not None:
            self.worker.retire(old)
        new.start()
        self._base[record.app_id] = dict(rev.settings)
        self.serving[record.app_id] = rev.revision
        await self.store.register_app(record)
        await self.store.mark_live(record.app_id, rev.revision)
        await build_log.line(f"revision {rev.revision} is serving")
        log.info("app %s: revision %s serving on this worker", record.app_id, rev.revision)
        return None if warm else new

    async def _warm_up(self, pool: Supervisor) -> None:
        """One runner of the new revision, started beside the old ones. The pool's own
        loops are not running yet: it claims nothing and scales nothing."""
        self.worker.warming.add(pool)
        try:
            for _ in range(WARMUP_ATTEMPTS):
                if await self._first_runner(pool):
                    return
            raise RolloutFailed(f"its runner did not start: {pool.start_error}")
        except BaseException:
            self.worker.warming.discard(pool)
            await pool.stop()
            raise

    async def _first_runner(self, pool: Supervisor) -> bool:
        failed = pool.failed_starts
        cluster = await self.store.list_runners(pool.app_id)
        if not await pool._start_runner(limit=len(cluster) + 1):  # a surge of one
            raise RolloutFailed("no runner slot on this worker (GPUs busy?)")
        while pool.failed_starts == failed:
            if any(r.state is RunnerState.READY for r in pool.runners):
                return True
            await asyncio.sleep(0.02)
        return False

    # ------------------------------------------------------------------ output

    async def _flush(self) -> None:
        batch, self._output = self._output, []
        by_runner: dict[RunnerProcess, list[str]] = {}
        booting: dict[RunnerProcess, list[str]] = {}
        for runner, line, starting in batch:
            by_runner.setdefault(runner, []).append(line)
            if starting and runner.app_id in self.serving:  # --app apps: logs as they were
                booting.setdefault(runner, []).append(line)
        for runner, lines in by_runner.items():
            await self.store.append_lines(f"runner:{runner.id}", lines)
            self._logged[runner] = None
        for runner, lines in booting.items():
            await self._tell(runner.app_id, *lines)
        await self._forget_old_runner_logs()

    async def _forget_old_runner_logs(self) -> None:
        """A runner's log outlives it by the store's retention (``runners logs`` of a
        runner that crashed), then goes."""
        t = time.monotonic()
        for runner, ended in list(self._logged.items()):
            if ended is None and runner.state is RunnerState.DEAD:
                self._logged[runner] = t
            elif ended is not None and t - ended > self.store.retention:
                await self.store.delete_lines(f"runner:{runner.id}")
                del self._logged[runner]

    async def _tell(self, app_id: str, *lines: str) -> None:
        """Show a cold start in the logs of the requests that were waiting when it began
        (they may be running by the time its setup output is read)."""
        entries = [LogEntry(message=line, level="INFO", source="RUNNER") for line in lines]
        for request_id in self._audience.get(app_id, []):
            await self.store.append_logs(request_id, entries)


class BuildLog:
    """A revision's build output, kept in the store (``build:REV``) as it comes."""

    def __init__(self, store: Store, revision: str) -> None:
        self.store, self.name = store, f"build:{revision}"
        self._pending: list[str] = []
        self._last = 0.0

    async def line(self, text: str) -> None:
        self._pending.append(text)
        now = asyncio.get_running_loop().time()
        if now - self._last >= 0.1:
            await self.flush()
            self._last = now

    async def flush(self) -> None:
        pending, self._pending = self._pending, []
        await self.store.append_lines(self.name, pending)


async def describe(python: str, ref: str, env: dict[str, str]) -> dict[str, Any]:
    """The app's settings and endpoints, read by its own interpreter."""
    proc = await asyncio.create_subprocess_exec(
        python,
        "-m",
        "openfal.deploy.describe",
        ref,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **env},
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 300)
    except TimeoutError:
        proc.kill()
        raise RolloutFailed("describing the app took over 300 s") from None
    if proc.returncode != 0:
        text = err.decode(errors="replace").strip().splitlines()
        raise RolloutFailed("the app does not load: " + "\n".join(text[-15:]))
    data: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return data
