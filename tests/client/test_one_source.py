"""The sync and async clients are two drivers of one API (``_api.py``) and one set of flows:
they share no run of six lines, so a change in behaviour is made in one place."""

from __future__ import annotations

import re
from pathlib import Path

CLIENT = Path(__file__).resolve().parents[2] / "src" / "openfal" / "client"
WINDOW = 6


def _lines(name: str) -> list[str]:
    """Code lines with ``async``/``await`` and the drivers' ``Async``/``Sync`` name prefixes
    folded away, so that two blocks differing only in those count as the same."""
    out = []
    for line in (CLIENT / name).read_text().splitlines():
        line = re.sub(r"\b(async|await)\s+|\b(Async|Sync)(?=[A-Z])", "", line)
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def _windows(lines: list[str]) -> set[tuple[str, ...]]:
    return {tuple(lines[i : i + WINDOW]) for i in range(len(lines) - WINDOW + 1)}


def test_sync_and_async_clients_share_no_block_of_six_lines() -> None:
    shared = _windows(_lines("_sync.py")) & _windows(_lines("_async.py"))
    assert not shared, "\n---\n".join("\n".join(block) for block in sorted(shared)[:3])
