"""App settings: the known ones with their defaults, naming rules and the app id."""

from __future__ import annotations

import re
import warnings
from typing import Any

from openfal.sdk._exceptions import AppDefinitionError

__all__ = [
    "DEFAULTS",
    "FAL_ONLY_SETTINGS",
    "UnknownSettingWarning",
    "app_id_for",
    "kebab_case",
    "split_settings",
    "warn_unknown",
]

# Settings openfal acts on, with the value an App gets when it says nothing.
DEFAULTS: dict[str, Any] = {
    "app_name": None,
    "keep_alive": 300,
    "min_concurrency": 0,
    "max_concurrency": 2,
    "concurrency_buffer": 0,
    "scaling_delay": 0,
    "max_multiplexing": 1,
    "request_timeout": None,
    "startup_timeout": 600,
    "machine_type": "CPU",
    "num_gpus": 0,
    "requirements": [],
    "version": None,
}

# fal.App class attributes that openfal accepts but does not act on. Only these names are
# treated as settings when written as class attributes; any other attribute belongs to the
# app (a model path, a constant). Class keywords are always settings.
FAL_ONLY_SETTINGS = frozenset(
    {
        "app_auth",
        "app_files",
        "app_files_context_dir",
        "app_files_ignore",
        "concurrency_buffer_perc",
        "host_kwargs",
        "image",
        "kind",
        "local_python_modules",
        "private_logs",
        "python_version",
        "regions",
        "resolver",
        "skip_retry_conditions",
    }
)

_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


class UnknownSettingWarning(UserWarning):
    """A setting openfal does not act on was given; it is kept in `App.settings()`."""


def split_settings(keywords: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split class keywords into known settings and unknown ones (`name` means app_name)."""
    known: dict[str, Any] = {}
    unknown: dict[str, Any] = {}
    for key, value in keywords.items():
        target = "app_name" if key == "name" else key
        (known if target in DEFAULTS else unknown)[target] = value
    return known, unknown


def warn_unknown(class_name: str, names: list[str]) -> None:
    """Warn once per class about settings openfal keeps but does not use."""
    if not names:
        return
    listed = ", ".join(repr(name) for name in sorted(names))
    warnings.warn(
        f"{class_name}: openfal does not use setting(s) {listed}; kept in settings() only",
        UnknownSettingWarning,
        stacklevel=3,
    )


def kebab_case(name: str) -> str:
    """`MyHTTPApp` → `my-http-app`."""
    return _WORD_BOUNDARY.sub("-", name).replace("_", "-").lower()


def app_id_for(class_name: str, app_name: str | None) -> str:
    """The app id: `owner/alias` as given, `local/<app_name>`, or `local/<kebab class>`."""
    if app_name is None:
        return f"local/{kebab_case(class_name)}"
    segments = app_name.split("/")
    if len(segments) > 2 or not all(_SEGMENT.match(part) for part in segments):
        raise AppDefinitionError(
            f"{class_name}: app_name {app_name!r} must be 'alias' or 'owner/alias' "
            "(letters, digits, '.', '_' and '-')"
        )
    return app_name if len(segments) == 2 else f"local/{app_name}"
