"""Server-sent events, decoded line by line (the WHATWG rules the clients need)."""

from __future__ import annotations


class SSEDecoder:
    """Feed lines (without their newline); :meth:`feed` answers an event's data when a blank
    line completes one. Comments, ``event:``, ``id:`` and ``retry:`` fields are ignored, and
    so is an event without ``data:``."""

    def __init__(self) -> None:
        self._data: list[str] = []

    def feed(self, line: str) -> str | None:
        if not line:
            if not self._data:
                return None
            data, self._data = "\n".join(self._data), []
            return data
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if name == "data":
            self._data.append(value[1:] if value.startswith(" ") else value)
        return None
