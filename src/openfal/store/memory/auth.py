"""Keys, rate buckets, concurrency slots and file owners of the in-process store.

Hooks never await, so each one is atomic on the event loop (like ``memory.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from openfal.store.auth import AuthStore, KeyRecord, revoke, token_bucket

if TYPE_CHECKING:
    from openfal.store.requests import RequestRecord


class MemoryAuth(AuthStore):
    _requests: dict[str, RequestRecord]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._keys: dict[str, KeyRecord] = {}
        self._buckets: dict[str, tuple[float, float]] = {}
        self._user_slots: dict[str, dict[str, float]] = {}  # user -> request id -> taken at
        self._file_owners: dict[str, str] = {}

    async def _put_key(self, key: KeyRecord) -> None:
        self._keys[key.id] = key

    async def _get_key(self, key_id: str) -> KeyRecord | None:
        return self._keys.get(key_id)

    async def _list_keys(self) -> list[KeyRecord]:
        return list(self._keys.values())

    async def _revoke_key(self, key_id: str, t: float) -> bool:
        key = self._keys.get(key_id)
        revoked = revoke(key, t) if key is not None else None
        if revoked is None:
            return False
        self._keys[key_id] = revoked
        return True

    async def _any_key(self) -> bool:
        return bool(self._keys)

    async def _take_token(self, bucket: str, limit: int, window: float, t: float) -> float:
        tokens, updated = self._buckets.get(bucket, (None, None))
        tokens, updated, wait = token_bucket(tokens, updated, limit, window, t)
        self._buckets[bucket] = (tokens, updated)
        return wait

    async def _acquire_slot(
        self, user: str, request_id: str, limit: int, t: float, grace: float
    ) -> bool:
        slots = self._user_slots.setdefault(user, {})
        for held, taken_at in list(slots.items()):
            rec = self._requests.get(held)
            if (rec is not None and rec.is_done) or (rec is None and taken_at < t - grace):
                del slots[held]
        if request_id in slots:
            return True
        if len(slots) >= limit:
            return False
        slots[request_id] = t
        return True

    async def _release_slot(self, user: str, request_id: str) -> None:
        self._user_slots.get(user, {}).pop(request_id, None)

    async def _slots(self, user: str) -> list[str]:
        return list(self._user_slots.get(user, {}))

    async def _put_file_owner(self, file_key: str, owner: str, t: float) -> None:
        self._file_owners[file_key] = owner

    async def _get_file_owner(self, file_key: str) -> str | None:
        return self._file_owners.get(file_key)
