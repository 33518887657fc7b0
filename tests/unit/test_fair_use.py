"""The fair-use window arithmetic, over an in-memory counter."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.accounts.fair_use import RequestLimit, RequestWindow, admit_request
from shared.errors import RateLimited

LIMIT = RequestLimit(per_second=50, burst=100)  # the contract's: windows of 2 s
WINDOW_START = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)  # an even second: a window starts here


class MemoryCounter:
    """What the store's conditional ADD does: count unless the window is full."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, int]] = Counter()

    def count_request(self, account_id: str, window: RequestWindow, limit: int) -> bool:
        if self.counts[account_id, window.start_ms] >= limit:
            return False
        self.counts[account_id, window.start_ms] += 1
        return True


def test_the_window_is_burst_over_rate_seconds_aligned_to_the_epoch() -> None:
    window = LIMIT.window_at(WINDOW_START + timedelta(milliseconds=1500))
    assert window.end_ms - window.start_ms == 2000
    assert window.start_ms == int(WINDOW_START.timestamp() * 1000)
    assert RequestLimit(per_second=3, burst=10).window_ms == 3333
    assert window.expires_at > window.end_ms // 1000  # kept a while after the window ends, then TTL deletes it


def test_allowed_up_to_the_burst_then_refused_without_counting() -> None:
    counter = MemoryCounter()
    for n in range(100):
        admit_request(counter, "a1", LIMIT, WINDOW_START + timedelta(milliseconds=n * 10))
    for _ in range(3):
        with pytest.raises(RateLimited) as refused:
            admit_request(counter, "a1", LIMIT, WINDOW_START + timedelta(seconds=1))
        assert refused.value.code == "RATE_LIMITED"
    assert counter.counts["a1", LIMIT.window_at(WINDOW_START).start_ms] == 100


def test_another_account_has_its_own_window() -> None:
    counter = MemoryCounter()
    for _ in range(100):
        admit_request(counter, "a1", LIMIT, WINDOW_START)
    with pytest.raises(RateLimited):
        admit_request(counter, "a1", LIMIT, WINDOW_START)
    admit_request(counter, "a2", LIMIT, WINDOW_START)


@pytest.mark.parametrize(
    ("into_window", "retry_after"),
    [
        (timedelta(0), 2),
        (timedelta(milliseconds=1), 2),
        (timedelta(milliseconds=999), 2),
        (timedelta(seconds=1), 1),
        (timedelta(milliseconds=1999), 1),  # 1 ms left: still a whole second, never 0
    ],
)
def test_retry_after_is_whole_seconds_to_the_window_end_at_least_one(into_window: timedelta, retry_after: int) -> None:
    counter = MemoryCounter()
    for _ in range(100):
        admit_request(counter, "a1", LIMIT, WINDOW_START)
    with pytest.raises(RateLimited) as refused:
        admit_request(counter, "a1", LIMIT, WINDOW_START + into_window)
    assert refused.value.retry_after == retry_after
    assert 1 <= refused.value.retry_after <= 2


def test_the_next_window_is_allowed_again() -> None:
    counter, late = MemoryCounter(), WINDOW_START + timedelta(milliseconds=1999)
    for _ in range(100):
        admit_request(counter, "a1", LIMIT, late)
    with pytest.raises(RateLimited) as refused:
        admit_request(counter, "a1", LIMIT, late)
    admit_request(counter, "a1", LIMIT, late + timedelta(seconds=refused.value.retry_after))  # as told: allowed
    for _ in range(99):
        admit_request(counter, "a1", LIMIT, WINDOW_START + timedelta(seconds=3))
    with pytest.raises(RateLimited):
        admit_request(counter, "a1", LIMIT, WINDOW_START + timedelta(seconds=3))


def test_over_whole_windows_the_average_stays_at_the_rate() -> None:
    counter, admitted = MemoryCounter(), 0
    for tick in range(10_000):  # 10 s of one request per millisecond
        try:
            admit_request(counter, "a1", LIMIT, WINDOW_START + timedelta(milliseconds=tick))
            admitted += 1
        except RateLimited:
            pass
    assert admitted == 50 * 10
