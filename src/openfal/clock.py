"""One clock for the whole platform, so tests can patch time in one place.

A neutral module: every layer may import it, and it imports nothing of openfal.
"""

import time

__all__ = ["now"]


def now() -> float:
    """Seconds since the epoch."""
    return time.time()
