from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import Serve


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., Serve]]:
    """Start ``openfal serve`` with the given fixture apps; stopped after the test."""
    started: list[Serve] = []

    def start(*apps: str, **kw: object) -> Serve:
        s = Serve(tmp_path / f"data{len(started)}", list(apps), **kw)  # type: ignore[arg-type]
        started.append(s)
        return s.start()

    yield start
    for s in started:
        s.stop()
