"""The Redis store (``redis://host:port/db``): many machines share one Redis server."""

from openfal.store.redis.store import RedisStore

__all__ = ["RedisStore"]
