"""The apps part of the store contract: registered apps and what their endpoints accept."""

from __future__ import annotations

import abc
from dataclasses import dataclass, field, replace
from typing import Any

from openfal.store import clock


@dataclass(frozen=True)
class AppRecord:
    """A registered app: where its code is and what its endpoints accept."""

    app_id: str
    source: str  # "path/to/file.py::Class" or "package.module:Class"
    settings: dict[str, Any] = field(default_factory=dict)
    endpoints: dict[str, Any] = field(default_factory=dict)  # path -> {input_schema, output_schema}
    registered_at: float = 0.0


class AppStore(abc.ABC):
    """Registered apps, by id."""

    async def register_app(self, app: AppRecord) -> None:
        await self._put_app(replace(app, registered_at=app.registered_at or clock.now()))

    async def get_app(self, app_id: str) -> AppRecord | None:
        return await self._get_app(app_id)

    async def list_apps(self) -> list[AppRecord]:
        return await self._list_apps()

    async def unregister_app(self, app_id: str) -> bool:
        return await self._delete_app(app_id)

    # ------------------------------------------------------------------ hooks

    @abc.abstractmethod
    async def _put_app(self, app: AppRecord) -> None: ...

    @abc.abstractmethod
    async def _get_app(self, app_id: str) -> AppRecord | None: ...

    @abc.abstractmethod
    async def _list_apps(self) -> list[AppRecord]: ...

    @abc.abstractmethod
    async def _delete_app(self, app_id: str) -> bool: ...
