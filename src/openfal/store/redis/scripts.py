"""The Redis store's Lua scripts, kept as ``.lua`` files beside this module."""

from __future__ import annotations

from functools import cache
from importlib.resources import files


@cache
def lua(name: str) -> str:
    """The source of the script ``name`` (a file of this package)."""
    return files(__package__).joinpath(name).read_text(encoding="utf-8")
