from __future__ import annotations

import shutil

import pytest

from tests.store.redis_server import MISSING, REDIS_SERVER


@pytest.fixture(scope="session", autouse=True)
def _redis_installed() -> None:
    if shutil.which(REDIS_SERVER) is None:
        pytest.fail(MISSING, pytrace=False)
