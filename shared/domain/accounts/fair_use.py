"""Fair use: each account's requests counted in fixed windows of burst / rate seconds.

A window admits at most `burst` requests, so over any span of whole windows an account averages at most `rate`
requests per second; one refused request changes nothing. Windows are aligned to the epoch, so every API container
counts the same window for the same moment."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from shared.errors import RateLimited

COUNTER_RETENTION_SECONDS = 60
"""A window's counter is kept this long after the window ends (TTL), then DynamoDB deletes it."""


@dataclass(frozen=True)
class RequestWindow:
    start_ms: int
    end_ms: int

    @property
    def expires_at(self) -> int:
        return self.end_ms // 1000 + COUNTER_RETENTION_SECONDS

    def retry_after(self, now: datetime) -> int:
        """Whole seconds until the window ends, at least 1 (an HTTP Retry-After of 0 would invite a retry storm)."""
        return max(1, math.ceil((self.end_ms - _ms(now)) / 1000))


@dataclass(frozen=True)
class RequestLimit:
    per_second: float
    burst: int

    @property
    def window_ms(self) -> int:
        return max(1, round(self.burst * 1000 / self.per_second))

    def window_at(self, now: datetime) -> RequestWindow:
        moment = _ms(now)
        start = moment - moment % self.window_ms
        return RequestWindow(start_ms=start, end_ms=start + self.window_ms)


class RequestCounter(Protocol):
    def count_request(self, account_id: str, window: RequestWindow, limit: int) -> bool:
        """Counts one request of the account in the window unless it has `limit` already; False then, and
        nothing is counted."""
        ...


def admit_request(counter: RequestCounter, account_id: str, limit: RequestLimit, now: datetime) -> None:
    """Counts the request, or raises RateLimited when the account's window is full."""
    window = limit.window_at(now)
    if not counter.count_request(account_id, window, limit.burst):
        raise RateLimited(
            f"more than {limit.burst} requests in {limit.window_ms / 1000:g} s; retry later",
            retry_after=window.retry_after(now),
        )


def _ms(moment: datetime) -> int:
    return math.floor(moment.timestamp() * 1000)
