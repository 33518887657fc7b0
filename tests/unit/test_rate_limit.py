"""The token bucket: never more than its rate in any one-second window, across threads; costs above its burst; the
wait limit; Retry-After values."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from shared.adapters.rate_limit import TokenBucket, instance_share, retry_after_seconds


def _peak(moments: Sequence[float], window: float = 1.0) -> int:
    """Most moments in any half-open window [t, t + window)."""
    ordered = sorted(moments)
    best, start = 0, 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= window - 1e-9:
            start += 1
        best = max(best, end - start + 1)
    return best


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_requests_are_spaced_so_no_second_holds_more_than_the_rate() -> None:
    fake = FakeTime()
    bucket = TokenBucket(10, clock=fake.clock, sleep=fake.sleep)
    moments = []
    for _ in range(100):
        bucket.acquire()
        moments.append(fake.now)
    assert _peak(moments) == 10
    assert moments[-1] - moments[0] == pytest.approx(9.9)


def test_threads_reserve_distinct_slots() -> None:
    # The clock stands still while 8 threads take 25 tokens each: every go time is now + its wait.
    fake_now = 50.0
    bucket = TokenBucket(20, clock=lambda: fake_now, sleep=lambda seconds: None)
    go_times: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(25):
            wait = bucket.acquire()
            with lock:
                go_times.append(fake_now + wait)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(go_times) == 200
    assert len({round(t, 9) for t in go_times}) == 200  # no two threads got the same slot
    assert _peak(go_times) == 20


def test_on_the_real_clock_threads_stay_under_the_rate() -> None:
    bucket = TokenBucket(20)
    moments: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(8):
            bucket.acquire()
            with lock:
                moments.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert _peak(moments, window=0.95) <= 20  # a little under a second: wake-up jitter only ever delays


def test_a_cost_above_the_burst_goes_at_once_and_the_next_waits_it_out() -> None:
    fake = FakeTime()
    bucket = TokenBucket(1, clock=fake.clock, sleep=fake.sleep)
    assert bucket.acquire(50) == 0  # SES lets a bulk call through, then counts every recipient
    assert bucket.acquire(1) == pytest.approx(50)


def test_try_acquire_reserves_nothing_past_its_limit() -> None:
    fake = FakeTime()
    bucket = TokenBucket(2, clock=fake.clock, sleep=fake.sleep)
    assert bucket.acquire(10) == 0
    assert bucket.try_acquire(10, max_wait=1) is None
    assert bucket.try_acquire(1, max_wait=5) == pytest.approx(5)  # nothing was reserved by the refusal


def test_the_share_of_each_instance() -> None:
    assert instance_share(100, 5) == pytest.approx(18)  # 20, less 10 % for latency jitter
    assert instance_share(10, 0) == pytest.approx(9)
    with pytest.raises(ValueError, match="must be positive"):
        instance_share(0, 3)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("2", 2.0), (" 0.5 ", 0.5), ("-3", 0.0), ("86400", 60.0), ("soon", None), ("", None), (None, None)],
)
def test_retry_after_values(value: str | None, seconds: float | None) -> None:
    assert retry_after_seconds(value) == seconds


def test_retry_after_as_an_http_date() -> None:
    now = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)
    assert retry_after_seconds("Sat, 01 Mar 2025 12:00:07 GMT", now=now) == 7.0
