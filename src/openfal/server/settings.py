"""The one settings object of every server process (``serve``, ``gateway``, ``worker``).

Each field comes from, first match wins:

1. a command-line flag (``--lease-ttl 10``),
2. an ``OPENFAL_*`` environment variable named after the field (``OPENFAL_LEASE_TTL=10``;
   lists are comma-separated: ``OPENFAL_WEBHOOK_ALLOW=10.0.0.0/8,hooks.lan``),
3. the TOML file given with ``--config FILE`` or ``OPENFAL_CONFIG`` (top-level keys named
   after the fields: ``lease_ttl = 10``),
4. the default below.

Everything is validated here, once, before anything starts: a bad value stops the command
with the field's name. ``openfal config`` prints what a command would run with.
"""

from __future__ import annotations

import contextvars
import math
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from openfal.errors import OpenfalError

__all__ = ["CONFIG_ENV", "Settings", "SettingsError", "load_settings"]

CONFIG_ENV = "OPENFAL_CONFIG"
SHARED_STORES = ("redis://", "rediss://", "unix://", "sqlite://")
SECRET_FIELDS = ("gateway_key", "token_secret")

_config_file: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "openfal_config_file", default=None
)

Names = Annotated[list[str], NoDecode]


class SettingsError(OpenfalError, ValueError):
    """A setting is missing or invalid (the message names it and where it came from)."""


class _TomlSource(PydanticBaseSettingsSource):
    """Top-level keys of the ``--config`` file; unknown keys are an error."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ returns the whole table

    def __call__(self) -> dict[str, Any]:
        path = _config_file.get() or (
            Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None
        )
        if path is None:
            return {}
        try:
            with open(path, "rb") as f:
                table = tomllib.load(f)
        except FileNotFoundError:
            raise SettingsError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as e:
            raise SettingsError(f"config file {path}: {e}") from None
        unknown = sorted(set(table) - set(self.settings_cls.model_fields))
        if unknown:
            raise SettingsError(f"config file {path}: unknown settings {', '.join(unknown)}")
        return table


class Settings(BaseSettings):
    """What a server process runs with; see the module docstring for where values come from."""

    model_config = SettingsConfigDict(env_prefix="OPENFAL_", extra="forbid", frozen=True)

    # --- where clients reach us
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    public_url: str | None = None  # the base URL clients reach the gateway(s) on
    # --- state
    data_dir: Path = Path(".openfal")
    store_url: str | None = None  # default (serve): sqlite under data_dir
    storage_url: str | None = None  # default: file://<data_dir>/files
    # --- apps
    apps: Names = []
    builtins: bool = True
    demo_weights: bool = False
    apps_config: Path | None = None  # default: <data_dir>/apps.toml when it exists
    load_apps: bool = True  # gateway: validate input with the app's own models
    only_listed: bool = False  # worker: serve only the --app apps
    app_refresh: float = Field(2.0, gt=0)
    # --- requests
    lease_ttl: float = Field(30.0, gt=0)
    cancel_grace: float = Field(1.0, ge=0)
    retention: float = Field(3600.0, gt=0)
    max_attempts: int = Field(3, ge=1)
    max_body_size: int = Field(32 * 1024 * 1024, gt=0)  # benchmarks/large_body.py
    drain_timeout: float = Field(math.inf, ge=0)
    housekeeping_interval: float | None = Field(None, gt=0)  # default: a third of lease_ttl
    # --- files
    max_upload_size: int = Field(1024**3, gt=0)
    upload_retention: float = Field(7 * 24 * 3600.0, gt=0)
    storage_sweep_interval: float = Field(300.0, gt=0)
    # --- runners (worker)
    gpus: Names | None = None
    runner_host: str = "127.0.0.1"
    advertise_host: str | None = None
    worker_host: str | None = None  # this machine's name in listings
    gateway_key: str | None = None  # key for runner uploads through a gateway
    # --- keys, limits, webhooks
    token_secret: str | None = None  # realtime token secret shared by every gateway
    rate_limit: int | None = Field(None, ge=1)
    rate_window: float = Field(60.0, gt=0)
    max_concurrent: int | None = Field(None, ge=1)
    webhook_allow: Names = []
    webhook_retry_base: float = Field(15.0, gt=0)
    webhook_max_attempts: int = Field(10, ge=1)
    webhook_timeout: float = Field(15.0, gt=0)
    # each retry's wait is spread by up to this fraction either way, so that webhooks that failed
    # together (a receiver was down) do not all come back at the same moment
    webhook_retry_jitter: float = Field(0.2, ge=0, lt=1)
    log_level: Literal["critical", "error", "warning", "info", "debug", "trace"] = "info"
    log_format: Literal["text", "json"] = "text"  # json: one object per line
    # --- metrics (worker): its own /metrics listener; gateways serve /metrics on their port
    metrics_port: int | None = Field(None, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls))

    @field_validator("apps", "webhook_allow", "gpus", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("public_url")
    @classmethod
    def _no_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else None

    @model_validator(mode="after")
    def _urls(self) -> Settings:
        for name in ("store_url", "storage_url", "public_url"):
            value = getattr(self, name)
            if value is not None and "://" not in value and not value.startswith("memory:"):
                raise ValueError(f"{name} must be a URL (scheme://...), not {value!r}")
        return self

    # --- derived values, one place each

    @property
    def store(self) -> str:
        return self.store_url or f"sqlite:///{self.data_dir / 'openfal.db'}"

    @property
    def storage(self) -> str:
        return self.storage_url or f"file://{(self.data_dir / 'files').absolute()}"

    @property
    def housekeeping_every(self) -> float:
        """Seconds between two looks for expired leases: an orphaned request is requeued
        at most this long after its lease expired."""
        return self.housekeeping_interval or self.lease_ttl / 3

    @property
    def embedded(self) -> bool:
        """One process owns the store alone (not shared with gateways/workers elsewhere)."""
        return not self.store.startswith(("redis://", "rediss://", "unix://"))

    @property
    def public(self) -> str:
        """The base URL of file URLs: ``public_url``, else this server's own address."""
        if self.public_url:
            return self.public_url
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def shared_store(self, command: str) -> str:
        """The store URL, which a gateway or worker alone must share with the others."""
        url = self.store_url or ""
        if not url.startswith(SHARED_STORES) or url in ("sqlite://", "sqlite:///:memory:"):
            raise SettingsError(
                f"openfal {command}: --store must be shared with the other gateways and "
                f"workers: redis://HOST:PORT/DB (or sqlite:///PATH on one machine), not {url!r}"
            )
        return url

    def shown(self) -> dict[str, Any]:
        """The settings as printed by ``openfal config``: secrets masked."""
        data = self.model_dump(mode="json")
        for name in SECRET_FIELDS:
            if data.get(name):
                data[name] = "***"
        return data


def load_settings(cli: dict[str, Any] | None = None, config: Path | None = None) -> Settings:
    """Settings from flags (``cli``: field name -> value), environment and ``config``."""
    from pydantic import ValidationError

    token = _config_file.set(config)
    try:
        return Settings(**(cli or {}))
    except ValidationError as e:
        raise SettingsError(_explain(e)) from None
    finally:
        _config_file.reset(token)


def _explain(error: Any) -> str:
    lines = []
    for item in error.errors():
        name = ".".join(str(p) for p in item["loc"]) or "settings"
        flag = "--" + name.replace("_", "-")
        env = "OPENFAL_" + name.upper()
        lines.append(f"{name} ({flag} / {env}): {item['msg']}")
    return "invalid settings:\n  " + "\n  ".join(lines)
