"""Every change to credits and counts goes through one compare-and-set loop with its ledger entry."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from shared.errors import ConcurrentUpdate

ResultT = TypeVar("ResultT")

MAX_ATTEMPTS = 12


def retry_on_conflict(attempt: Callable[[], ResultT], *, max_attempts: int = MAX_ATTEMPTS) -> ResultT:
    """Run a read-decide-write attempt until its conditional write wins (jittered backoff between)."""
    for tries in range(1, max_attempts + 1):
        try:
            return attempt()
        except ConcurrentUpdate:
            if tries == max_attempts:
                raise
            time.sleep(random.uniform(0, 0.01 * 2 ** min(tries, 6)))
    raise AssertionError("unreachable")
