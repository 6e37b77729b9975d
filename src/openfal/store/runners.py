"""The cluster's runner registry: every runner and worker, and the runner slots.

A runner record is also a *slot*: an app may have at most ``limit`` live records at once,
cluster-wide, and :meth:`RunnerRegistry.acquire_runner` takes one atomically before a
worker starts a runner process. Records expire: the worker renews them
(:meth:`heartbeat_runners`) every few seconds, so the slots of a worker that died free
themselves after ``ttl`` seconds, and its records vanish from listings.

Slot life::

    acquire_runner (STARTING) ──heartbeat (READY, in_flight)──▶ retire_runner (STOPPING)
         │ count < limit, atomically           │                   │ live non-STOPPING > keep
         └─────────────────────────────────────┴───────────────────┴──▶ release_runner / expiry

Realtime sessions take a runner the same way across machines (:meth:`open_session`): a
gateway attaches a session to a READY runner whose requests plus sessions leave a
multiplexing slot free, renews it while the websocket is open, and closes it after. A
session that finds no such runner is recorded as *waiting*: workers count waiting and
attached sessions as demand when they scale, and count attached ones against each
runner's ``max_multiplexing`` when they dispatch.

Workers advertise themselves the same way (:meth:`heartbeat_worker`), with their apps and
free GPUs, for ``openfal workers list``. Both records carry only what a listing, an
autoscaler or a realtime relay needs; the runner process itself is the worker's business.
"""

from __future__ import annotations

import abc
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from enum import Enum
from typing import Any

from openfal.store.clock import now


class SlotState(str, Enum):
    STARTING = "STARTING"
    READY = "READY"
    STOPPING = "STOPPING"


@dataclass(frozen=True)
class RunnerInfo:
    """One runner process somewhere in the cluster (and the slot it holds)."""

    runner_id: str
    app_id: str
    worker_id: str
    host: str  # the machine's name
    url: str = ""  # base URL gateways can reach it at (realtime relay), "" before it listens
    state: SlotState = SlotState.STARTING
    in_flight: int = 0
    max_multiplexing: int = 1
    gpus: str = ""  # its CUDA_VISIBLE_DEVICES, "" when none were assigned
    started_at: float = 0.0
    heartbeat_at: float = 0.0
    expires_at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = self.state.value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunnerInfo:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["state"] = SlotState(values.get("state", "STARTING"))
        return cls(**values)


@dataclass(frozen=True)
class WorkerInfo:
    """One ``openfal worker`` (or the worker inside ``openfal serve``)."""

    worker_id: str
    host: str
    pid: int = 0
    apps: list[str] = field(default_factory=list)
    gpus: list[str] = field(default_factory=list)
    free_gpus: list[str] = field(default_factory=list)
    draining: bool = False
    started_at: float = 0.0
    heartbeat_at: float = 0.0
    expires_at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> WorkerInfo:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class SessionCounts:
    """An app's live realtime sessions: waiting for a runner, and attached per runner."""

    waiting: int = 0
    by_runner: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.waiting + sum(self.by_runner.values())


class RunnerRegistry(abc.ABC):
    """Store mixin: runner slots and the worker list. Backends implement the hooks; every
    hook that decides on a slot is atomic (one Lua script, one SQLite transaction)."""

    #: True when a session that starts waiting (:meth:`open_session` found no runner)
    #: wakes ``wait_for_work`` of its app in every process sharing the store, like a
    #: queued request. Workers on a store without it look for waiting sessions of their
    #: realtime apps every few seconds instead.
    announces_waiting_sessions: bool = False

    async def acquire_runner(self, info: RunnerInfo, *, limit: int, ttl: float) -> bool:
        """Record a new runner if its app has fewer than ``limit`` live runners."""
        t = now()
        rec = replace(info, started_at=info.started_at or t, heartbeat_at=t, expires_at=t + ttl)
        return await self._runner_acquire(rec, limit, t)

    async def heartbeat_runners(self, runners: Sequence[RunnerInfo], ttl: float) -> list[str]:
        """Renew these runners' records with their current state and load.

        Returns the ids whose record expired or was released meanwhile: their slot may be
        someone else's now, so the caller must stop them. A retired (STOPPING) runner
        stays STOPPING whatever state the heartbeat carries.
        """
        if not runners:
            return []
        t = now()
        return await self._runner_heartbeat(
            [replace(r, heartbeat_at=t, expires_at=t + ttl) for r in runners], t
        )

    async def retire_runner(self, runner_id: str, *, keep: int) -> bool:
        """Mark a runner STOPPING if its app keeps more than ``keep`` live runners that are
        not stopping. A STOPPING runner still holds its slot until released."""
        return await self._runner_retire(runner_id, keep, now())

    async def release_runner(self, runner_id: str) -> None:
        """Forget a runner (its process is gone): its slot is free again."""
        await self._runner_delete(runner_id)

    async def list_runners(self, app_id: str | None = None) -> list[RunnerInfo]:
        """Live runners, oldest first."""
        runners = await self._runner_list(app_id, now())
        return sorted(runners, key=lambda r: (r.started_at, r.runner_id))

    async def open_session(self, app_id: str, session_id: str, ttl: float) -> RunnerInfo | None:
        """Attach session ``session_id`` to the least loaded READY runner of ``app_id`` with
        a free slot (requests plus sessions below ``max_multiplexing``) and return it; None
        when there is none, the session then waits (and counts as demand) for ``ttl``
        seconds. Calling it again for a waiting session tries again; for an attached one it
        returns the same runner."""
        t = now()
        runner = await self._session_open(app_id, session_id, t, t + ttl)
        if runner is None:
            self._session_waiting(app_id)
        return runner

    async def renew_session(self, session_id: str, ttl: float) -> bool:
        """Keep an attached session alive; False when it expired or its runner is gone."""
        t = now()
        return await self._session_renew(session_id, t, t + ttl)

    async def close_session(self, session_id: str) -> None:
        await self._session_close(session_id)

    async def session_counts(self, app_id: str) -> SessionCounts:
        return await self._session_counts(app_id, now())

    async def heartbeat_worker(self, info: WorkerInfo, ttl: float) -> None:
        t = now()
        await self._worker_put(
            replace(info, started_at=info.started_at or t, heartbeat_at=t, expires_at=t + ttl)
        )

    async def remove_worker(self, worker_id: str) -> None:
        await self._worker_delete(worker_id)

    async def list_workers(self) -> list[WorkerInfo]:
        workers = await self._worker_list(now())
        return sorted(workers, key=lambda w: (w.started_at, w.worker_id))

    async def purge_expired_runners(self) -> int:
        """Delete expired runner and worker records; returns how many runners went."""
        return await self._registry_purge(now())

    async def shared_secret(self, name: str, nbytes: int = 32) -> bytes:
        """A random secret every process sharing this store agrees on (created once)."""
        return await self._secret_get_or_create(name, secrets.token_bytes(nbytes))

    # ------------------------------------------------------------------ hooks

    @abc.abstractmethod
    def _session_waiting(self, app_id: str) -> None:
        """A session of ``app_id`` waits for a runner: it is demand, like a queued request
        (:class:`~openfal.store.Store` wakes this process's workers; backends shared between
        processes that set ``announces_waiting_sessions`` tell the others in
        ``_session_open``)."""

    @abc.abstractmethod
    async def _runner_acquire(self, rec: RunnerInfo, limit: int, t: float) -> bool:
        """Atomically: drop the app's records expired at ``t``; insert ``rec`` if fewer
        than ``limit`` remain and its id is new."""

    @abc.abstractmethod
    async def _runner_heartbeat(self, runners: list[RunnerInfo], t: float) -> list[str]:
        """Overwrite each record that exists and has not expired at ``t``; return the
        ids of the others (deleting their expired records)."""

    @abc.abstractmethod
    async def _runner_retire(self, runner_id: str, keep: int, t: float) -> bool:
        """Atomically set state STOPPING if the runner is live, not already stopping, and
        its app has more than ``keep`` live non-STOPPING runners."""

    @abc.abstractmethod
    async def _runner_delete(self, runner_id: str) -> None: ...

    @abc.abstractmethod
    async def _runner_list(self, app_id: str | None, t: float) -> list[RunnerInfo]:
        """Records that have not expired at ``t``."""

    @abc.abstractmethod
    async def _session_open(
        self, app_id: str, session_id: str, t: float, expires: float
    ) -> RunnerInfo | None:
        """Atomically: drop the app's sessions expired at ``t``; keep an attached session
        on its runner if that runner is live, else pick the live READY runner with the
        lowest in_flight + attached sessions below its max_multiplexing; record the
        session (attached, or waiting with no runner) until ``expires``."""

    @abc.abstractmethod
    async def _session_renew(self, session_id: str, t: float, expires: float) -> bool: ...

    @abc.abstractmethod
    async def _session_close(self, session_id: str) -> None: ...

    @abc.abstractmethod
    async def _session_counts(self, app_id: str, t: float) -> SessionCounts:
        """Sessions of ``app_id`` live at ``t``."""

    @abc.abstractmethod
    async def _worker_put(self, info: WorkerInfo) -> None: ...

    @abc.abstractmethod
    async def _worker_delete(self, worker_id: str) -> None: ...

    @abc.abstractmethod
    async def _worker_list(self, t: float) -> list[WorkerInfo]: ...

    @abc.abstractmethod
    async def _registry_purge(self, t: float) -> int: ...

    @abc.abstractmethod
    async def _secret_get_or_create(self, name: str, candidate: bytes) -> bytes:
        """The stored secret ``name``, storing ``candidate`` first if there is none."""
