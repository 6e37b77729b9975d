"""App code on this host: turn a reference into a registration, or a record back into
input models.

An app registered in the store names its code by ``source``: an absolute
``/path/file.py::Class`` or an import path ``package.module:Class``. Any process that can
load that source (a shared folder mounted at the same path, or the same package
installed) can serve the app (workers) or validate its input exactly (gateways).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from openfal import apps
from openfal.sdk import describe, endpoint_models, load_app
from openfal.store import AppRecord

log = logging.getLogger("openfal")

BUILTIN_APPS = list(apps.BUILTIN_APPS)


def installed(refs: list[str]) -> list[str]:
    """``refs`` less the built-in apps whose libraries are missing here (each one logged)."""
    found = []
    for ref in refs:
        if missing := apps.missing_modules(ref):
            log.warning(
                "built-in app %s skipped: %s not installed (pip install 'openfal[apps]')",
                ref,
                ", ".join(missing),
            )
        else:
            found.append(ref)
    return found


def resolve_ref(ref: str) -> str:
    """Make ``file.py::Class`` absolute so runner processes find it from anywhere."""
    if "::" in ref or ref.endswith(".py"):
        path, _, cls = ref.partition("::")
        return f"{Path(path).resolve()}::{cls}" if cls else str(Path(path).resolve())
    return ref


def app_record(ref: str) -> tuple[AppRecord, Any]:
    """Load an app's code (not its weights: setup() runs in the runner) and describe it."""
    cls = load_app(ref)
    info = describe(cls)
    record = AppRecord(
        app_id=info["app_id"], source=ref, settings=info["settings"], endpoints=info["endpoints"]
    )
    return record, endpoint_models(cls)


def load_models(record: AppRecord) -> Any | None:
    """The input/output models of a registered app if its code is on this host and still
    describes the same app; None otherwise (its runners then validate the input)."""
    if record.source.startswith("rev:"):
        return None  # a deployed revision: its code lives in the store, its runners validate
    try:
        found, models = app_record(record.source)
    except Exception as e:
        log.warning(
            "app %s: code %s is not loadable here (%s: %s); its input is validated by "
            "its runners, not at submit",
            record.app_id,
            record.source,
            type(e).__name__,
            e,
        )
        return None
    if found.app_id != record.app_id or set(found.endpoints) != set(record.endpoints):
        log.warning(
            "app %s: the code at %s here differs from its registration",
            record.app_id,
            record.source,
        )
        return None
    return models
