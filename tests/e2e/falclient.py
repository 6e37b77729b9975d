"""Point the official ``fal_client`` at an ``openfal serve`` for one test, with
:func:`openfal.compat.use_server` (PROTOCOL.md §12.1)."""

from __future__ import annotations

import pytest

from openfal import compat
from tests.e2e.harness import Serve

_undo: list[dict[str, str | None]] = []


def use_server(monkeypatch: pytest.MonkeyPatch, s: Serve) -> None:
    """Rebind fal_client's five base URLs (and FAL_KEY) to ``s``; :func:`forget_server`
    undoes it. (``monkeypatch`` is kept for the callers' sake.)"""
    _undo.append(compat.use_server(s.url, key="local-dev-key"))


def forget_server() -> None:
    while _undo:
        compat.restore(_undo.pop())
