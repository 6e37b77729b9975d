"""The runner registry of :class:`~openfal.store.memory.MemoryStore`: plain dicts.

No hook awaits, so each one is atomic on the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from openfal.store.runners import (
    RunnerInfo,
    RunnerRegistry,
    SessionCounts,
    SlotState,
    WorkerInfo,
)


@dataclass(frozen=True)
class _Session:
    app_id: str
    runner_id: str | None  # None: waiting for a runner
    expires_at: float


@dataclass
class _State:
    runners: dict[str, RunnerInfo] = field(default_factory=dict)
    workers: dict[str, WorkerInfo] = field(default_factory=dict)
    secrets: dict[str, bytes] = field(default_factory=dict)
    sessions: dict[str, _Session] = field(default_factory=dict)


class MemoryRunners(RunnerRegistry):
    def _registry(self) -> _State:
        state = self.__dict__.get("_registry_state")
        if state is None:
            state = self.__dict__["_registry_state"] = _State()
        assert isinstance(state, _State)
        return state

    def _live(self, app_id: str | None, t: float) -> list[RunnerInfo]:
        return [
            r
            for r in self._registry().runners.values()
            if r.expires_at >= t and (app_id is None or r.app_id == app_id)
        ]

    async def _runner_acquire(self, rec: RunnerInfo, limit: int, t: float) -> bool:
        runners = self._registry().runners
        for r in list(runners.values()):
            if r.app_id == rec.app_id and r.expires_at < t:
                del runners[r.runner_id]
        if rec.runner_id in runners or len(self._live(rec.app_id, t)) >= limit:
            return False
        runners[rec.runner_id] = rec
        return True

    async def _runner_heartbeat(self, runners: list[RunnerInfo], t: float) -> list[str]:
        known = self._registry().runners
        lost = []
        for rec in runners:
            old = known.get(rec.runner_id)
            if old is None or old.expires_at < t:
                known.pop(rec.runner_id, None)
                lost.append(rec.runner_id)
            else:
                state = SlotState.STOPPING if old.state is SlotState.STOPPING else rec.state
                known[rec.runner_id] = replace(rec, started_at=old.started_at, state=state)
        return lost

    async def _runner_retire(self, runner_id: str, keep: int, t: float) -> bool:
        known = self._registry().runners
        rec = known.get(runner_id)
        if rec is None or rec.expires_at < t or rec.state is SlotState.STOPPING:
            return False
        active = [r for r in self._live(rec.app_id, t) if r.state is not SlotState.STOPPING]
        if len(active) <= keep:
            return False
        known[runner_id] = replace(rec, state=SlotState.STOPPING)
        return True

    async def _runner_delete(self, runner_id: str) -> None:
        self._registry().runners.pop(runner_id, None)

    async def _runner_list(self, app_id: str | None, t: float) -> list[RunnerInfo]:
        return self._live(app_id, t)

    def _attached(self, app_id: str, t: float, skip: str = "") -> dict[str, int]:
        load: dict[str, int] = {}
        for sid, session in self._registry().sessions.items():
            live = session.expires_at >= t and sid != skip
            if live and session.app_id == app_id and session.runner_id:
                load[session.runner_id] = load.get(session.runner_id, 0) + 1
        return load

    async def _session_open(
        self, app_id: str, session_id: str, t: float, expires: float
    ) -> RunnerInfo | None:
        sessions = self._registry().sessions
        for sid, session in list(sessions.items()):
            if session.app_id == app_id and session.expires_at < t:
                del sessions[sid]
        live = {r.runner_id: r for r in self._live(app_id, t)}
        current = sessions.get(session_id)
        if current is not None and current.runner_id in live:
            sessions[session_id] = replace(current, expires_at=expires)
            return live[current.runner_id]
        load = self._attached(app_id, t, skip=session_id)
        free = [
            r
            for r in live.values()
            if r.state is SlotState.READY
            and r.in_flight + load.get(r.runner_id, 0) < r.max_multiplexing
        ]
        if not free:
            sessions[session_id] = _Session(app_id, None, expires)
            return None
        best = min(free, key=lambda r: (r.in_flight + load.get(r.runner_id, 0), r.started_at))
        sessions[session_id] = _Session(app_id, best.runner_id, expires)
        return best

    async def _session_renew(self, session_id: str, t: float, expires: float) -> bool:
        sessions = self._registry().sessions
        session = sessions.get(session_id)
        runner = self._registry().runners.get(session.runner_id or "") if session else None
        if session is None or session.expires_at < t or runner is None or runner.expires_at < t:
            sessions.pop(session_id, None)
            return False
        sessions[session_id] = replace(session, expires_at=expires)
        return True

    async def _session_close(self, session_id: str) -> None:
        self._registry().sessions.pop(session_id, None)

    async def _session_counts(self, app_id: str, t: float) -> SessionCounts:
        live = {r.runner_id for r in self._live(app_id, t)}
        waiting = sum(
            1
            for s in self._registry().sessions.values()
            if s.app_id == app_id and s.runner_id is None and s.expires_at >= t
        )
        attached = {k: v for k, v in self._attached(app_id, t).items() if k in live}
        return SessionCounts(waiting, attached)

    async def _worker_put(self, info: WorkerInfo) -> None:
        self._registry().workers[info.worker_id] = info

    async def _worker_delete(self, worker_id: str) -> None:
        self._registry().workers.pop(worker_id, None)

    async def _worker_list(self, t: float) -> list[WorkerInfo]:
        return [w for w in self._registry().workers.values() if w.expires_at >= t]

    async def _registry_purge(self, t: float) -> int:
        state = self._registry()
        dead = [r.runner_id for r in state.runners.values() if r.expires_at < t]
        for runner_id in dead:
            del state.runners[runner_id]
        for w in [w.worker_id for w in state.workers.values() if w.expires_at < t]:
            del state.workers[w]
        for sid in [k for k, v in state.sessions.items() if v.expires_at < t]:
            del state.sessions[sid]
        return len(dead)

    async def _secret_get_or_create(self, name: str, candidate: bytes) -> bytes:
        return self._registry().secrets.setdefault(name, candidate)
