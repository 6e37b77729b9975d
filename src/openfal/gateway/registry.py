"""Which apps exist, which paths they serve and how to validate their input."""

from __future__ import annotations

import time
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

    def validate(self, path: str, data: Any) -> None:
        model = self.models.get(path, (None, None))[0]
        if model is None:
            return  # the runner validates; the gateway has only the schema
        try:
            model.model_validate(data)
        except ValidationError as e:
            detail = [
                {"loc": ["body", *err["loc"]], "msg": err["msg"], "type": err["type"]}
                for err in e.errors(include_url=False)
            ]
            raise ValidationFailed(detail) from None


class AppRegistry:
    """Apps known to this gateway: the store's list, plus models of locally loaded code."""

    def __init__(self, store: Store, refresh_every: float = 2.0) -> None:
        self.store = store
        self.refresh_every = refresh_every
        self._entries: dict[str, AppEntry] = {}
        self._models: dict[str, Models] = {}
        self._fetched: dict[str, float] = {}

    def add_local(self, record: AppRecord, models: Models) -> None:
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
            entry = AppEntry(record, self._models.get(app_id, {}))
            self._entries[app_id] = entry
            self._fetched[app_id] = time.monotonic()
        return entry

    async def endpoint(self, app_id: str, path: str) -> AppEntry:
        entry = await self.get(app_id)
        if path not in entry.record.endpoints:
            raise NotFound(f"Path /{path} not found")
        if entry.record.endpoints[path].get("websocket"):
            raise NotFound(f"Path /{path} is a WebSocket endpoint: connect to it with ws://")
        return entry

    async def all(self) -> list[AppRecord]:
        return await self.store.list_apps()
