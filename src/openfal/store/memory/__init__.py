"""The in-process store (``memory://``): plain dicts, for tests and experiments."""

from openfal.store.memory.store import MemoryStore

__all__ = ["MemoryStore"]
