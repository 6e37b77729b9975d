"""How a runner of an app starts on this host: which interpreter, which code, which extra
environment. Plain registrations run ``app.source`` in the worker's own interpreter; a
deployed revision brings its own (see ``openfal.deploy``)."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from openfal.store import AppRecord


@dataclass(frozen=True)
class Launch:
    ref: str  # what ``python -m openfal.runner`` loads
    python: str = sys.executable
    env: dict[str, str] = field(default_factory=dict)


Launcher = Callable[[AppRecord], Awaitable[Launch]]


async def plain_launch(app: AppRecord) -> Launch:
    return Launch(ref=app.source)
