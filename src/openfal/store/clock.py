"""One clock for the whole platform, so tests can patch time in one place."""

import time


def now() -> float:
    """Seconds since the epoch."""
    return time.time()
