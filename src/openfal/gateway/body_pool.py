"""Large bodies are validated in a helper process, so the event loop stays free.

Validating a large JSON body holds the GIL for the whole parse (~8 ms per MiB of small
objects on the project's 2-core machine): a thread does not help, and on the loop a 32 MiB
body would stall every other client for a quarter of a second. Bodies above
``POOL_THRESHOLD`` go to a small process pool instead: the child loads the endpoint's input
model from the app's source (once per app), validates the bytes, and sends back only the
outcome. The loop spends a few milliseconds handing the bytes over.

A child that cannot load the app's code (it is not on this host) answers ``None`` and the
caller validates in-process, as for small bodies.
"""

from __future__ import annotations

import asyncio
import dataclasses
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

__all__ = ["POOL_THRESHOLD", "Outcome", "validate_in_pool"]

POOL_THRESHOLD = 4 * 1024 * 1024  # bytes; below it validation costs the loop < ~40 ms
POOL_WORKERS = 2

# ("ok", own files) | ("invalid", pydantic errors) ; None: validate in-process
Outcome = tuple[str, list[Any]]

_pool: ProcessPoolExecutor | None = None


class AnyObject(BaseModel):
    """Any JSON object: checks the syntax of every value without building them."""

    model_config = ConfigDict(extra="ignore")


async def validate_in_pool(
    source: str | None, path: str, body: bytes, context: dict[str, Any]
) -> Outcome | None:
    """Validate ``body`` against the input model of ``source``'s endpoint ``path`` (any JSON
    object when ``source`` is None) in the pool; None when the pool cannot do it."""
    from openfal import toolkit

    # the child checks URL inputs with this process's file settings (public URL, allow-list)
    overrides = dataclasses.asdict(toolkit.settings())
    loop = asyncio.get_running_loop()
    try:
        return await loop.run_in_executor(
            _executor(), _validate, source, path, body, overrides, context
        )
    except BrokenProcessPool:
        _reset()
        return None


def _executor() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ProcessPoolExecutor(POOL_WORKERS, mp_context=multiprocessing.get_context("spawn"))
    return _pool


def _reset() -> None:
    global _pool
    if _pool is not None:
        _pool.shutdown(wait=False, cancel_futures=True)
    _pool = None


# ---------------------------------------------------------------------- in the child

_models: dict[str, Any] = {}


def _validate(
    source: str | None, path: str, body: bytes, overrides: dict[str, Any], context: dict[str, Any]
) -> Outcome | None:
    from openfal import toolkit

    toolkit.configure()
    toolkit.configure(**overrides)
    model = AnyObject if source is None else _model(source, path)
    if model is None:
        return None
    try:
        model.model_validate_json(body, context=context)
    except ValidationError as e:
        return "invalid", [plain_error(err) for err in e.errors(include_url=False)]
    return "ok", [context]


def plain_error(err: Any) -> dict[str, Any]:
    """A pydantic error as plain data: ``type``, ``loc``, ``msg`` and for bad JSON ``problem``."""
    plain = {"type": err["type"], "loc": list(err["loc"]), "msg": err["msg"]}
    if err["type"] == "json_invalid":
        plain["problem"] = str(err.get("ctx", {}).get("error") or err["msg"])
    return plain


def _model(source: str, path: str) -> Any:
    if source not in _models:
        from openfal.sdk import endpoint_models, load_app

        try:
            _models[source] = endpoint_models(load_app(source))
        except Exception:  # not loadable here: the caller validates in-process
            _models[source] = {}
    found = _models[source].get(path)
    return None if found is None else found[0]
