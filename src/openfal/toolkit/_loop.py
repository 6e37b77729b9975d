"""One background event loop per process, so that sync app code can use the async storage.

App code calls the toolkit from worker threads (sync endpoints) or from the runner's own
loop (async endpoints); either way ``run_sync`` hands the coroutine to this loop and waits.
Storage backends opened here stay bound to this loop for the life of the process.

The toolkit does not know storage backends: the process that runs apps hands it a way to
open one (``use_storage(open_storage)``; the runner and the gateway do, with
``openfal.storage.Storage.from_url``). Without one, files become ``data:`` URIs.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from openfal.toolkit._platform import FileStore, StorageOpener

__all__ = ["has_storage", "run_sync", "storage_for", "use_storage"]

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_thread: threading.Thread | None = None
_storages: dict[str, FileStore] = {}
_opener: StorageOpener | None = None


def use_storage(opener: StorageOpener | None) -> None:
    """Open the platform's storage with ``opener(url)`` from now on (None: no storage)."""
    global _opener
    with _lock:
        _opener = opener
        _storages.clear()


def has_storage() -> bool:
    return _opener is not None


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


def storage_for(url: str) -> FileStore:
    """The opened storage behind ``url``, one per URL and process."""
    with _lock:
        storage, opener = _storages.get(url), _opener
    if storage is not None:
        return storage
    if opener is None:
        raise RuntimeError("no file storage in this process: call toolkit.use_storage first")
    storage = opener(url)
    run_sync(storage.open())
    with _lock:
        return _storages.setdefault(url, storage)
