"""One settings object: flags over ``OPENFAL_*`` variables over the TOML file over defaults,
validated in one place; ``openfal config`` prints it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from openfal.server.settings import SettingsError, load_settings


def test_flags_then_environment_then_file_then_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "openfal.toml"
    config.write_text('port = 7000\nlease_ttl = 5.0\nwebhook_allow = ["10.0.0.0/8"]\n')
    monkeypatch.setenv("OPENFAL_LEASE_TTL", "7")
    monkeypatch.setenv("OPENFAL_GPUS", "0,1")
    settings = load_settings({"port": 9000}, config)
    assert settings.port == 9000  # flag over file
    assert settings.lease_ttl == 7.0  # environment over file
    assert settings.webhook_allow == ["10.0.0.0/8"]  # file over default
    assert settings.gpus == ["0", "1"]  # comma-separated list from the environment
    assert settings.retention == 3600.0  # default
    assert settings.public == "http://127.0.0.1:9000"


def test_a_bad_value_names_the_setting_and_where_to_set_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("OPENFAL_LEASE_TTL", "soon")
    with pytest.raises(SettingsError, match=r"lease_ttl \(--lease-ttl / OPENFAL_LEASE_TTL\)"):
        load_settings()
    monkeypatch.delenv("OPENFAL_LEASE_TTL")
    config = tmp_path / "bad.toml"
    config.write_text("prot = 1\n")
    with pytest.raises(SettingsError, match="unknown settings prot"):
        load_settings({}, config)
    with pytest.raises(SettingsError, match="must be shared"):
        load_settings({"store_url": "memory://"}).shared_store("gateway")


def test_openfal_config_prints_a_file_that_config_accepts(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "openfal", "config", "--port", "9100", "--rate-limit", "5"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "OPENFAL_GATEWAY_KEY": "id:secret"},
    )
    assert done.returncode == 0, done.stderr
    assert "port = 9100" in done.stdout and "rate_limit = 5" in done.stdout
    assert "id:secret" not in done.stdout and 'gateway_key = "***"' in done.stdout
    printed = tmp_path / "printed.toml"
    printed.write_text(done.stdout)
    assert load_settings({"gateway_key": None}, printed).port == 9100
