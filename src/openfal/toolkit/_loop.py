"""One background event loop per process, so that sync app code can use the async storage.

App code calls the toolkit from worker threads (sync endpoints) or from the runner's own
loop (async endpoints); either way ``run_sync`` hands the coroutine to this loop and waits.
Storage backends opened here stay bound to this loop for the life of the process.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from openfal.storage import Storage

__all__ = ["run_sync", "storage_for"]

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None
_storages: dict[str, Storage] = {}


def _background_loop() -> asyncio.AbstractEventLoop:
    global _loop, _thread
    with _lock:
        if _loop is None or not _loop.is_running():
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def serve() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            _thread = threading.Thread(target=serve, name="openfal-toolkit", daemon=True)
            _thread.start()
            ready.wait()
            _loop = loop
        return _loop


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on the background loop and return its result (blocking the caller)."""
    loop = _background_loop()
    if threading.current_thread() is _thread:
        coro.close()
        raise RuntimeError("run_sync called from the toolkit's own loop")
    return asyncio.run_coroutine_threadsafe(coro, loop).result()


def storage_for(url: str) -> Storage:
    """The opened storage behind ``url``, one per URL and process."""
    with _lock:
        storage = _storages.get(url)
    if storage is not None:
        return storage
    storage = Storage.from_url(url)
    run_sync(storage.open())
    with _lock:
        return _storages.setdefault(url, storage)
