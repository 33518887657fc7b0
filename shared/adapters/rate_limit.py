"""A provider's request rate, held by every consumer instance for its share: a thread-safe token bucket.

Each instance of a consumer builds one bucket per provider at ``limit / instances`` requests per second, where
``instances`` is the most instances that may call the provider at once (the event source's MaximumConcurrency, plus
one for a scheduled reader such as the report poller or the catalog sync). So the sum over instances never exceeds
the provider's limit, by construction, without any shared state between them.

The bucket holds at most ``burst`` tokens (1 by default: requests are spaced ``1 / rate`` apart, so no window of one
second ever sees more than ``rate`` of them). A request of cost ``n`` (SES counts every recipient of a bulk call)
waits until the bucket holds ``min(n, burst)`` and then takes ``n``, leaving a debt the next callers wait out.
Callers reserve their slot under the lock and sleep outside it, so concurrent threads queue in arrival order.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# Requests leave evenly spaced but reach the provider after varying latency, so two may land closer than their
# spacing (measured: 101 in one second against a limit of 100 without it). Each share keeps this much headroom.
LATENCY_HEADROOM = 0.9
MAX_RETRY_AFTER_SECONDS = 60.0  # a provider's Retry-After beyond this is capped: the Lambda's time is finite


class TokenBucket:
    """``acquire(cost)`` blocks until the request may go. ``clock`` (monotonic seconds) and ``sleep`` are injected
    in tests."""

    def __init__(
        self,
        rate: float,
        *,
        burst: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("a token bucket's rate must be positive")
        if burst <= 0:
            raise ValueError("a token bucket's burst must be positive")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = burst
        self._updated = clock()

    def __repr__(self) -> str:
        return f"TokenBucket(rate={self.rate:g}, burst={self.burst:g})"

    def acquire(self, cost: float = 1.0) -> float:
        """Waits for the request's turn; returns the seconds waited."""
        wait = self._reserve(cost, None)
        assert wait is not None
        return wait

    def try_acquire(self, cost: float, max_wait: float) -> float | None:
        """As acquire, unless the turn is more than ``max_wait`` seconds away: then nothing is reserved and the
        answer is None (the caller leaves that work for a later attempt rather than outlive its Lambda)."""
        return self._reserve(cost, max_wait)

    def _reserve(self, cost: float, max_wait: float | None) -> float | None:
        if cost <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            wait = max(0.0, min(cost, self.burst) - self._tokens) / self.rate
            if max_wait is not None and wait > max_wait:
                return None
            self._tokens -= cost  # reserved now: later callers see the debt and wait behind this one
        if wait > 0:
            self._sleep(wait)
        return wait


def instance_share(limit: float, instances: int) -> float:
    """One instance's part of a provider's limit, when at most ``instances`` call it at once (less the headroom)."""
    if limit <= 0:
        raise ValueError("a provider's rate limit must be positive")
    return LATENCY_HEADROOM * limit / max(1, instances)


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """An HTTP ``Retry-After`` (delay-seconds or an HTTP-date) in seconds, capped; None when absent or unreadable."""
    if not value or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return min(MAX_RETRY_AFTER_SECONDS, max(0.0, seconds))
