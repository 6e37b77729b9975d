"""`App`: the base class of every openfal app, with its settings and lifecycle hooks."""

from __future__ import annotations

import copy
from typing import Any, ClassVar

from openfal.sdk._context import RequestContext, current_request
from openfal.sdk._settings import (
    DEFAULTS,
    FAL_ONLY_SETTINGS,
    app_id_for,
    split_settings,
    warn_unknown,
)

__all__ = ["App"]


class App:
    """Base class of an app: settings as class keywords or attributes, endpoints as methods.

    ```
    class Echo(openfal.App, name="openfal/echo", keep_alive=60):
        def setup(self) -> None: ...

        @openfal.endpoint("/")
        def run(self, input: EchoInput) -> EchoOutput: ...
    ```
    """

    app_name: ClassVar[str | None] = None
    keep_alive: ClassVar[int] = 300
    min_concurrency: ClassVar[int] = 0
    max_concurrency: ClassVar[int] = 2
    concurrency_buffer: ClassVar[int] = 0
    scaling_delay: ClassVar[float] = 0
    max_multiplexing: ClassVar[int] = 1
    request_timeout: ClassVar[float | None] = None
    startup_timeout: ClassVar[float] = 600
    machine_type: ClassVar[str | list[str]] = "CPU"
    num_gpus: ClassVar[int] = 0
    requirements: ClassVar[list[str]] = []
    version: ClassVar[str | None] = None

    # Settings openfal keeps but does not act on, inherited by subclasses.
    _unknown_settings: ClassVar[dict[str, Any]] = {}

    def __init_subclass__(cls, **keywords: Any) -> None:
        super().__init_subclass__()
        known, unknown = split_settings(keywords)
        for key, value in known.items():
            setattr(cls, key, value)
        unknown.update({k: v for k, v in vars(cls).items() if k in FAL_ONLY_SETTINGS})
        cls._unknown_settings = {**cls._unknown_settings, **unknown}
        warn_unknown(cls.__name__, list(unknown))
        app_id_for(cls.__name__, cls.app_name)  # reject a malformed name at definition

    @classmethod
    def app_id(cls) -> str:
        """`owner/alias`, or `local/<app_name>`, or `local/<kebab-case class name>`."""
        return app_id_for(cls.__name__, cls.app_name)

    @classmethod
    def settings(cls) -> dict[str, Any]:
        """Every setting, known (with defaults filled in) and unknown; a copy."""
        known = {key: getattr(cls, key) for key in DEFAULTS}
        # Copy containers so callers cannot mutate the class; leave other objects shared.
        return {key: _copy(value) for key, value in {**known, **cls._unknown_settings}.items()}

    @property
    def current_request(self) -> RequestContext | None:
        """The request being handled (id and headers), or None outside a request."""
        return current_request()

    def setup(self) -> Any:
        """Load models and other state once per runner, before any request (may be async)."""

    def teardown(self) -> Any:
        """Release what setup() acquired, when the runner stops (may be async)."""

    def health(self) -> Any:
        """Extra fields for GET /health, as a dict; raise to report the runner unhealthy."""
        return {}

    def provide_hints(self) -> list[str]:
        """Routing hints this runner advertises (for example the loaded model's name)."""
        return []


def _copy(value: Any) -> Any:
    return copy.deepcopy(value) if isinstance(value, list | dict | set | tuple) else value
