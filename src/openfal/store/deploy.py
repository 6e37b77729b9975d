"""Deployed apps: revisions, the revision each app serves, live scaling and secrets.

An app deployed over the admin API is a name with revisions. A revision is the app's
source (a blob: one file or a folder as a tar), the class to run, its settings and
endpoints (known once a worker built and described it), and an environment key (the
hash of its requirements). A :class:`Deployment` says which revision requests go to
(``current``), the last one that served (``live``) and the scaling set on top of the
revision's own settings. Secrets are stored encrypted (see ``openfal.deploy.secrets``):
the store only ever sees ciphertext.

Backends implement four small families of hooks: JSON documents with a compare-and-swap,
blobs, and append-only line logs (build output, runner output).
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import uuid
from dataclasses import asdict, dataclass, field, replace
from enum import Enum
from typing import Any

from openfal.store import clock

# documents: kind -> key -> JSON
_DEPLOYMENT, _REVISION, _SECRET, _KILL = "deployment", "revision", "secret", "kill"
KILL_TTL = 60.0  # seconds a kill waits for the runner's worker
LOG_LIMIT = 5000  # lines kept per log (the oldest go first)


class RevisionState(str, Enum):
    BUILDING = "BUILDING"  # stored; workers build its environment and start a runner
    LIVE = "LIVE"  # it served (or serves) requests
    FAILED = "FAILED"  # its environment or its runners failed; see ``error``


@dataclass(frozen=True)
class Revision:
    revision: str
    app_id: str
    entry: str  # "file.py::Class", relative to the unpacked source
    archive: str  # "file" (one module) or "tar" (a folder)
    requirements: list[str] = field(default_factory=list)
    python_version: str | None = None
    env_key: str = ""  # "" = the server's own environment
    settings: dict[str, Any] = field(default_factory=dict)
    endpoints: dict[str, Any] = field(default_factory=dict)
    state: RevisionState = RevisionState.BUILDING
    error: str | None = None
    strategy: str = "rolling"
    created_at: float = 0.0

    def public(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = self.state.value
        return data


@dataclass(frozen=True)
class Deployment:
    app_id: str
    current: str | None = None  # the revision new requests go to
    live: str | None = None  # the revision that served last (current once switched)
    scaling: dict[str, Any] = field(default_factory=dict)  # set with `apps scale`
    owner: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0

    def public(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SecretRecord:
    name: str
    ciphertext: str = field(repr=False)
    created_at: float = 0.0
    updated_at: float = 0.0

    def public(self) -> dict[str, Any]:
        """Name and dates: never the value."""
        return {"name": self.name, "created_at": self.created_at, "updated_at": self.updated_at}


def _revision(data: dict[str, Any]) -> Revision:
    return Revision(**{**data, "state": RevisionState(data["state"])})


class DeployStore(abc.ABC):
    """Revisions, deployments, secrets and logs (mixed into :class:`openfal.store.Store`)."""

    # ------------------------------------------------------------------ revisions

    async def add_revision(
        self, rev: Revision, source: bytes, *, owner: str | None = None
    ) -> Revision:
        """Store a new revision and its source, and make it the app's current one."""
        t = clock.now()
        rev = replace(rev, revision=rev.revision or uuid.uuid4().hex, created_at=t)
        await self._blob_put(f"source:{rev.revision}", source)
        await self._doc_put(_REVISION, rev.revision, rev.public())

        def point(dep: Deployment | None) -> Deployment:
            dep = dep or Deployment(app_id=rev.app_id, owner=owner, created_at=t)
            return replace(dep, current=rev.revision, updated_at=t)

        await self._change_deployment(rev.app_id, point)
        return rev

    async def get_revision(self, revision: str) -> Revision | None:
        data = await self._doc_get(_REVISION, revision)
        return _revision(data) if data is not None else None

    async def revision_source(self, revision: str) -> bytes | None:
        return await self._blob_get(f"source:{revision}")

    async def list_revisions(self, app_id: str) -> list[Revision]:
        """The app's revisions, oldest first."""
        found = [_revision(d) for d in await self._doc_list(_REVISION)]
        return sorted((r for r in found if r.app_id == app_id), key=lambda r: r.created_at)

    async def update_revision(self, revision: str, **changes: Any) -> Revision | None:
        """Change a revision's described settings/endpoints, state or error."""
        while True:
            data = await self._doc_get(_REVISION, revision)
            if data is None:
                return None
            new = replace(_revision(data), **changes)
            if await self._doc_swap(_REVISION, revision, data, new.public()):
                return new

    async def fail_revision(self, revision: str, error: str) -> Revision | None:
        """Mark a revision FAILED; an app whose current revision it was goes back to the
        revision that served before it (which never stopped serving)."""
        rev = await self.update_revision(revision, state=RevisionState.FAILED, error=error)
        if rev is not None:

            def back(dep: Deployment | None) -> Deployment | None:
                if dep is None or dep.current != revision or dep.live == revision:
                    return dep
                return replace(dep, current=dep.live, updated_at=clock.now())

            await self._change_deployment(rev.app_id, back)
        return rev

    # ------------------------------------------------------------------ deployments

    async def get_deployment(self, app_id: str) -> Deployment | None:
        data = await self._doc_get(_DEPLOYMENT, app_id)
        return Deployment(**data) if data is not None else None

    async def list_deployments(self) -> list[Deployment]:
        return sorted(
            (Deployment(**d) for d in await self._doc_list(_DEPLOYMENT)), key=lambda d: d.app_id
        )

    async def set_current_revision(self, app_id: str, revision: str) -> Deployment:
        """Point the app at one of its revisions (``set-rev``)."""
        rev = await self.get_revision(revision)
        if rev is None or rev.app_id != app_id:
            raise KeyError(f"app {app_id} has no revision {revision}")
        if rev.state is RevisionState.FAILED:
            await self.update_revision(revision, state=RevisionState.BUILDING, error=None)
        dep = await self._change_deployment(
            app_id, lambda d: d and replace(d, current=revision, updated_at=clock.now())
        )
        if dep is None:
            raise KeyError(f"app {app_id} is not deployed")
        return dep

    async def mark_live(self, app_id: str, revision: str) -> None:
        """The revision serves now (a worker switched to it)."""
        rev = await self.get_revision(revision)
        if rev is not None and rev.state is not RevisionState.LIVE:
            await self.update_revision(revision, state=RevisionState.LIVE, error=None)
        await self._change_deployment(
            app_id, lambda d: d and replace(d, live=revision, updated_at=clock.now())
        )

    async def set_scaling(self, app_id: str, scaling: dict[str, Any]) -> Deployment:
        """Merge scaling settings into the app's (None removes one)."""
        t = clock.now()

        def merge(dep: Deployment | None) -> Deployment:
            dep = dep or Deployment(app_id=app_id, created_at=t)
            merged = {**dep.scaling, **scaling}
            return replace(
                dep, scaling={k: v for k, v in merged.items() if v is not None}, updated_at=t
            )

        dep = await self._change_deployment(app_id, merge)
        assert dep is not None
        return dep

    async def delete_deployment(self, app_id: str) -> bool:
        """Forget the app's deployment, revisions and their sources."""
        for rev in await self.list_revisions(app_id):
            await self._doc_delete(_REVISION, rev.revision)
            await self._blob_delete(f"source:{rev.revision}")
            await self._log_delete(f"build:{rev.revision}")
        deleted = await self._doc_delete(_DEPLOYMENT, app_id)
        await self._announce_deploy()
        return deleted

    async def _change_deployment(self, app_id: str, fn: Any) -> Deployment | None:
        while True:
            data = await self._doc_get(_DEPLOYMENT, app_id)
            new = fn(Deployment(**data) if data is not None else None)
            if new is None:
                return None
            if await self._doc_swap(_DEPLOYMENT, app_id, data, new.public()):
                await self._announce_deploy()
                return new  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ changes

    async def wait_for_deploy_change(self, timeout: float) -> None:
        """Return once a deployment or a runner kill may have changed since the last
        return (at once when one did meanwhile), or after ``timeout`` seconds. Changes
        made through this store object wake it at once; backends shared between
        processes also announce theirs (others are seen at the timeout)."""
        changed = self._deploy_changed()
        await self._listen_for_deploys()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout)
        changed.clear()

    def _deploy_changed(self) -> asyncio.Event:
        event: asyncio.Event | None = getattr(self, "_deploy_event", None)
        if event is None:
            event = self._deploy_event = asyncio.Event()
        return event

    async def _announce_deploy(self) -> None:
        """A deployment or a kill changed (hook: shared backends tell other processes)."""
        self._deploy_changed().set()

    async def _listen_for_deploys(self) -> None:
        """Before a wait (hook: shared backends make sure other processes' changes reach
        this one). Nothing to do in one process."""
        return None

    # ------------------------------------------------------------------ secrets

    async def put_secret(self, name: str, ciphertext: str) -> SecretRecord:
        t = clock.now()
        while True:
            data = await self._doc_get(_SECRET, name)
            created = float(data["created_at"]) if data else t
            rec = SecretRecord(name, ciphertext, created_at=created, updated_at=t)
            if await self._doc_swap(_SECRET, name, data, asdict(rec)):
                return rec

    async def list_secrets(self) -> list[SecretRecord]:
        return sorted(
            (SecretRecord(**d) for d in await self._doc_list(_SECRET)), key=lambda s: s.name
        )

    async def delete_secret(self, name: str) -> bool:
        return await self._doc_delete(_SECRET, name)

    # ------------------------------------------------------------------ runner kills

    async def request_kill(self, runner_id: str) -> None:
        """Ask the worker that runs ``runner_id`` to kill it (``runners kill``)."""
        await self._doc_swap(_KILL, runner_id, None, {"at": clock.now()})
        await self._announce_deploy()

    async def take_kills(self, runner_ids: set[str]) -> list[str]:
        """The kills asked for among ``runner_ids`` (each handed out once); kills whose
        runner nobody took within KILL_TTL are dropped."""
        taken = []
        t = clock.now()
        for doc_key, data in await self._doc_items(_KILL):
            due = doc_key in runner_ids or float(data["at"]) < t - KILL_TTL
            if due and await self._doc_delete(_KILL, doc_key) and doc_key in runner_ids:
                taken.append(doc_key)
        return taken

    # ------------------------------------------------------------------ logs

    async def append_lines(self, log: str, lines: list[str]) -> None:
        """Append to a line log (``build:REV``, ``runner:ID``); the oldest lines beyond
        LOG_LIMIT are dropped."""
        if lines:
            await self._log_append(log, lines, LOG_LIMIT)

    async def get_lines(self, log: str, since: int = 0) -> list[str]:
        return await self._log_get(log, since)

    async def delete_lines(self, log: str) -> None:
        await self._log_delete(log)

    # ------------------------------------------------------------------ hooks

    @abc.abstractmethod
    async def _doc_get(self, kind: str, key: str) -> dict[str, Any] | None: ...

    async def _doc_list(self, kind: str) -> list[dict[str, Any]]:
        return [data for _, data in await self._doc_items(kind)]

    @abc.abstractmethod
    async def _doc_items(self, kind: str) -> list[tuple[str, dict[str, Any]]]: ...

    async def _doc_put(self, kind: str, key: str, data: dict[str, Any]) -> None:
        if not await self._doc_swap(kind, key, None, data):
            raise KeyError(f"{kind} {key} already exists")

    @abc.abstractmethod
    async def _doc_swap(
        self, kind: str, key: str, expect: dict[str, Any] | None, new: dict[str, Any]
    ) -> bool:
        """Write ``new`` if the stored document is still ``expect`` (None: absent)."""

    @abc.abstractmethod
    async def _doc_delete(self, kind: str, key: str) -> bool: ...

    @abc.abstractmethod
    async def _blob_put(self, key: str, data: bytes) -> None: ...

    @abc.abstractmethod
    async def _blob_get(self, key: str) -> bytes | None: ...

    @abc.abstractmethod
    async def _blob_delete(self, key: str) -> None: ...

    @abc.abstractmethod
    async def _log_append(self, log: str, lines: list[str], limit: int) -> None: ...

    @abc.abstractmethod
    async def _log_get(self, log: str, since: int) -> list[str]: ...

    @abc.abstractmethod
    async def _log_delete(self, log: str) -> None: ...


def encode(data: dict[str, Any] | None) -> str | None:
    """The canonical JSON of a document (what compare-and-swap compares)."""
    return None if data is None else json.dumps(data, sort_keys=True, separators=(",", ":"))
