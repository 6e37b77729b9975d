"""Turn what the app prints or logs during a request into that request's log events.

`sys.stdout`/`sys.stderr` become tees that still write to the real streams, and a root
logging handler turns records into events. The request comes from a contextvar, so
output from outside any request only reaches the real streams.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, TextIO

from openfal.runner._active import current_active
from openfal.runner._events import LogEvent, timestamp
from openfal.runner._threads import patch_threads, unpatch_threads

__all__ = ["capture_output", "level_name"]

# Set while logging handlers run in this thread: a handler writing to sys.stderr must not
# turn one record into a second, STDERR event.
_handling = threading.local()
_original_call_handlers = logging.Logger.callHandlers


def _call_handlers(self: logging.Logger, record: logging.LogRecord) -> None:
    depth = getattr(_handling, "depth", 0)
    _handling.depth = depth + 1
    try:
        _original_call_handlers(self, record)
    finally:
        _handling.depth = depth


class _Tee:
    """A text stream that writes through to `real` and copies lines to the request."""

    def __init__(self, real: TextIO, level: str) -> None:
        self.real = real
        self._level = level

    def write(self, text: str) -> int:
        written = self.real.write(text)
        active = current_active()
        if active is not None and not getattr(_handling, "depth", 0):
            active.write(self._level, text)
        return written

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self.real.flush()

    def __getattr__(self, name: str) -> Any:  # fileno, isatty, encoding, buffer, ...
        return getattr(self.real, name)


def level_name(levelno: int) -> str:
    """The protocol's level for a logging level: DEBUG, INFO, WARN or ERROR."""
    if levelno >= logging.ERROR:
        return "ERROR"
    if levelno >= logging.WARNING:
        return "WARN"
    return "INFO" if levelno >= logging.INFO else "DEBUG"


class _CaptureHandler(logging.Handler):
    """Root handler: records logged during a request become its log events."""

    def __init__(self, real_stderr: TextIO) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("%(message)s"))  # the traceback is appended
        self._real_stderr = real_stderr

    def emit(self, record: logging.LogRecord) -> None:
        message = self.format(record)
        active = current_active()
        if active is not None:
            moment = datetime.fromtimestamp(record.created, UTC)
            active.emit(LogEvent(level_name(record.levelno), message, timestamp=timestamp(moment)))
        if record.levelno >= logging.WARNING and logging.getLogger().handlers == [self]:
            # Do what logging's last resort would have done had we not been installed.
            self._real_stderr.write(message + "\n")


_lock = threading.Lock()
_installs = 0
_saved: tuple[TextIO, TextIO, _CaptureHandler] | None = None


def _install() -> None:
    global _saved
    stdout, stderr = sys.stdout, sys.stderr
    handler = _CaptureHandler(stderr)
    sys.stdout = _Tee(stdout, "STDOUT")
    sys.stderr = _Tee(stderr, "STDERR")
    logging.getLogger().addHandler(handler)
    logging.Logger.callHandlers = _call_handlers  # type: ignore[method-assign]
    patch_threads()
    _saved = (stdout, stderr, handler)


def _uninstall() -> None:
    global _saved
    assert _saved is not None
    stdout, stderr, handler = _saved
    unpatch_threads()
    logging.Logger.callHandlers = _original_call_handlers  # type: ignore[method-assign]
    logging.getLogger().removeHandler(handler)
    # Someone (pytest's capsys) may have swapped the streams since; leave theirs alone.
    if isinstance(sys.stdout, _Tee):
        sys.stdout = stdout
    if isinstance(sys.stderr, _Tee):
        sys.stderr = stderr
    _saved = None


@contextlib.contextmanager
def capture_output() -> Iterator[None]:
    """Capture request output while the block runs; nested uses share one installation."""
    global _installs
    with _lock:
        if _installs == 0:
            _install()
        _installs += 1
    try:
        yield
    finally:
        with _lock:
            _installs -= 1
            if _installs == 0:
                _uninstall()
