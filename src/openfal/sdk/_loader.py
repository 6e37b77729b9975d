"""Resolve an app reference (`path/to/file.py::Class` or `package.module:Class`) to a class."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from openfal.sdk._app import App
from openfal.sdk._exceptions import AppLoadError

__all__ = ["load_app"]


def load_app(ref: str) -> type[App]:
    """Load the App class named by `ref`.

    `ref` is `path/to/file.py::ClassName` or `package.module:ClassName`; without the class
    part the module must define exactly one App subclass. Errors in the reference raise
    `AppLoadError` (a ValueError); errors raised by the app's own code propagate.
    """
    separator = "::" if "::" in ref else ":"
    location, _, class_name = ref.partition(separator)
    is_file = separator == "::" or location.endswith(".py")
    module = _import_file(location) if is_file else _import_module(location)
    if class_name:
        return _named_class(module, location, class_name)
    return _only_class(module, location)


def _import_file(location: str) -> ModuleType:
    path = Path(location).expanduser().resolve()
    if not path.is_file():
        raise AppLoadError(f"app file not found: {location}")
    # A name unique per file, so two apps both called app.py do not replace each other.
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:10]
    name = f"_openfal_app_{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise AppLoadError(f"cannot import {location} as a Python module")
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)  # so the app can import its sibling modules
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # pydantic resolves forward references through sys.modules
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _import_module(name: str) -> ModuleType:
    if not name:
        raise AppLoadError("empty app reference; use file.py::Class or package.module:Class")
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        # Only a missing target is a bad reference; the app's own missing imports propagate.
        if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
            raise AppLoadError(f"cannot import module {name!r}: {exc}") from exc
        raise


def _named_class(module: ModuleType, location: str, class_name: str) -> type[App]:
    found = getattr(module, class_name, None)
    if found is None:
        raise AppLoadError(f"{location} has no attribute {class_name!r}")
    if not (isinstance(found, type) and issubclass(found, App)):
        raise AppLoadError(f"{location}::{class_name} is not an openfal.App subclass")
    return found


def _only_class(module: ModuleType, location: str) -> type[App]:
    candidates = [
        value
        for value in vars(module).values()
        if isinstance(value, type)
        and issubclass(value, App)
        and value is not App
        and value.__module__ == module.__name__
    ]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise AppLoadError(f"{location} defines no openfal.App subclass")
    names = ", ".join(sorted(cls.__name__ for cls in candidates))
    raise AppLoadError(f"{location} defines several App classes ({names}); name one")
