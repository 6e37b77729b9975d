"""Which apps exist, which paths they serve and how to validate their input."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from openfal.gateway.errors import NotFound, ValidationFailed
from openfal.store import AppRecord, Store

Models = dict[str, tuple[type[BaseModel], type[BaseModel] | None]]


@dataclass
class AppEntry:
    record: AppRecord
    models: Models = field(default_factory=dict)  # empty when the code is not loaded here

    def validate(self, path: str, data: Any, context: dict[str, Any] | None = None) -> None:
        model = self.models.get(path, (None, None))[0]
        if model is None:
            return  # the runner validates; the gateway has only the schema
        try:
            model.model_validate(data, context=context)
        except ValidationError as e:
            detail = [
                {"loc": ["body", *err["loc"]], "msg": err["msg"], "type": err["type"]}
                for err in e.errors(include_url=False)
            ]
            raise ValidationFailed(detail) from None


class AppRegistry:
    """Apps known to this gateway: the store's list, plus models of locally loaded code.

    ``loader`` (a gateway without workers) loads the models of apps registered elsewhere
    when their code is on this host too; it runs in a thread, once per registration.
    """

    def __init__(
        self,
        store: Store,
        refresh_every: float = 2.0,
        loader: Callable[[AppRecord], Models | None] | None = None,
    ) -> None:
        self.store = store
        self.refresh_every = refresh_every
        self.loader = loader
        self._entries: dict[str, AppEntry] = {}
        self._models: dict[str, Models] = {}
        self._fetched: dict[str, float] = {}
        self._local: set[str] = set()
        self._loaded: dict[str, tuple[str, float]] = {}  # app id -> registration loaded

    def add_local(self, record: AppRecord, models: Models) -> None:
        self._local.add(record.app_id)
        self._models[record.app_id] = models
        self._entries[record.app_id] = AppEntry(record, models)
        self._fetched[record.app_id] = time.monotonic()

    async def get(self, app_id: str) -> AppEntry:
        entry = self._entries.get(app_id)
        fresh = time.monotonic() - self._fetched.get(app_id, 0.0) < self.refresh_every
        if entry is None or not fresh:
            record = await self.store.get_app(app_id)
            if record is None:
                self._entries.pop(app_id, None)
                raise NotFound(f"Application '{app_id}' not found")
            entry = AppEntry(record, await self._models_for(record))
            self._entries[app_id] = entry
            self._fetched[app_id] = time.monotonic()
        return entry

    async def _models_for(self, record: AppRecord) -> Models:
        app_id = record.app_id
        if self.loader is not None and app_id not in self._local:
            registration = (record.source, record.registered_at)
            if self._loaded.get(app_id) != registration:
                self._loaded[app_id] = registration
                models: Models | None = await asyncio.to_thread(self.loader, record)
                self._models[app_id] = models or {}
        return self._models.get(app_id, {})

    async def endpoint(self, app_id: str, path: str) -> AppEntry:
        entry = await self.get(app_id)
        if path not in entry.record.endpoints:
            raise NotFound(f"Path /{path} not found")
        if entry.record.endpoints[path].get("websocket"):
            raise NotFound(f"Path /{path} is a WebSocket endpoint: connect to it with ws://")
        return entry

    async def all(self) -> list[AppRecord]:
        return await self.store.list_apps()
