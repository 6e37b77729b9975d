"""Plugging deployed apps into a worker and a gateway (``serve``, ``worker``, ``gateway``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from openfal.deploy.envs import Environments
from openfal.deploy.rollout import Deployer
from openfal.deploy.secrets import ENV_KEY, SecretBox
from openfal.store import Store

ENV_HOME = "OPENFAL_DEPLOY_DIR"  # where a worker host keeps environments and sources


def deploy_home(data_dir: Path | None) -> Path:
    """``$OPENFAL_DEPLOY_DIR``, else ``DATA_DIR`` (serve), else ``~/.cache/openfal``."""
    given = os.environ.get(ENV_HOME)
    if given:
        return Path(given)
    return data_dir if data_dir is not None else Path.home() / ".cache" / "openfal"


def secret_box(data_dir: Path | None) -> SecretBox | None:
    """The secrets key: ``$OPENFAL_SECRETS_KEY``, else DATA_DIR/secrets.key; None for
    processes with neither (a gateway or worker of a cluster that was not given one)."""
    if data_dir is None and not os.environ.get(ENV_KEY):
        return None
    return SecretBox.load(data_dir)


def make_deployer(store: Store, data_dir: Path | None) -> Deployer:
    home = deploy_home(data_dir).absolute()
    return Deployer(store, Environments(home / "envs"), home / "revisions", secret_box(data_dir))


def worker_hooks(deployer: Deployer) -> dict[str, Any]:
    """The WorkerConfig fields through which runners start from deployed revisions."""
    return {"launch": deployer.launch, "on_output": deployer.on_output}


def add_admin_routes(app: Starlette, data_dir: Path | None) -> None:
    """The secrets key the admin API encrypts with (routes are in ``create_app``)."""
    app.state.secret_box = secret_box(data_dir)
