"""Latency a marketer feels, on a deployed local stack (its stack.env): p50 and p99 from the API call
(POST /gift-sends of one recipient) to the recipient's ``SENT`` (polled on GET /gift-sends/{id}/recipients) over
SENDS sends, and the time from a scheduled send's ``send_at`` (about 70 s ahead: the dispatcher runs every
minute) to its first ``SENT``. Merges ``p50_seconds``, ``p99_seconds`` and ``schedule_start_seconds`` (and
``cold_start_seconds``: the slowest send while the functions' instances start) into bench/results.json and prints
them.

The sends go WORKERS at a time, each worker with its own account (as independent marketers are, and so no
account's request limit is what is measured).

Run: make bench-latency   (or .venv/bin/python -m bench.latency path/to/stack.env, with a stack up)
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from scripts import stack_env
from tests.api_calls import ApiCalls, Reply, open_account, unique

RESULTS = Path(__file__).resolve().parent / "results.json"
SENDS = 200
WORKERS = 8
WARM_UP_ROUNDS = 2
SCHEDULE_AHEAD = timedelta(seconds=70)
POLL_SECONDS = 0.05
SEND_TIMEOUT = 60.0
SCHEDULE_TIMEOUT = 240.0
TARGETS = {"p99_seconds": 3.0, "schedule_start_seconds": 60.0}
GIFT_PRICE = 4_500  # SBX-COFFEE


@dataclass
class Http(ApiCalls):
    base_url: str
    key: str
    session: requests.Session = field(default_factory=requests.Session)

    def call(self, method: str, path: str, body: Any = None, **_: Any) -> Reply:
        response = self.session.request(
            method,
            self.base_url + path,
            json=body,
            headers={"Authorization": f"Bearer {self.key}", "Accept": "application/json"},
            timeout=30,
        )
        return Reply(response.status_code, response.json() if response.text else None, response.headers, response.text)


def _send_body(promotion_id: str, phone: str, send_at: datetime | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "promotion_id": promotion_id,
        "gift_id": "SBX-COFFEE",
        "title": "Winner",
        "content": "Congratulations!",
        "recipients": [{"phone": phone, "name": "Kim"}],
    }
    if send_at is not None:
        body["send_at"] = send_at.isoformat()
    return body


def _marketer(admin: Http, sends: int) -> tuple[Http, str]:
    _, key = open_account(admin, unique("latency"), credits=GIFT_PRICE * (sends + 1))
    client = Http(admin.base_url, key)
    promotion = client.post("/promotions", {"name": "Latency"})
    assert promotion.status == 201, promotion
    return client, str(promotion.body["promotion_id"])


def _sent_at(client: Http, send_id: str, timeout: float) -> float:
    """perf_counter time at which the send's recipient was first seen SENT."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        reply = client.get(f"/gift-sends/{send_id}/recipients")
        assert reply.status == 200, reply
        items = reply.body["items"]
        if items and items[0]["status"] == "SENT":
            return time.perf_counter()
        assert not items or items[0]["status"] in ("PENDING", "SCHEDULED", "QUEUED", "PROCESSING"), reply
        time.sleep(POLL_SECONDS)
    raise TimeoutError(f"send {send_id} not SENT within {timeout:.0f} s")


def _one_send(client: Http, promotion_id: str, n: int) -> float:
    started = time.perf_counter()
    accepted = client.post("/gift-sends", _send_body(promotion_id, f"010-6{n // 10_000:03d}-{1000 + n % 9000:04d}"))
    assert accepted.status == 202, accepted
    return _sent_at(client, str(accepted.body["send_id"]), SEND_TIMEOUT) - started


def _scheduled(client: Http, promotion_id: str) -> float:
    send_at = (datetime.now(UTC) + SCHEDULE_AHEAD).replace(microsecond=0)
    accepted = client.post("/gift-sends", _send_body(promotion_id, "010-6999-1234", send_at))
    assert accepted.status == 202, accepted
    # perf_counter at send_at, from the wall clock now (the stack runs on this machine's clock)
    send_at_perf = time.perf_counter() + (send_at - datetime.now(UTC)).total_seconds()
    return _sent_at(client, str(accepted.body["send_id"]), SCHEDULE_TIMEOUT) - send_at_perf


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))]


def measure(env: dict[str, str], sends: int = SENDS, workers: int = WORKERS) -> dict[str, Any]:
    admin = Http(env["API_URL"].rstrip("/"), env["ADMIN_API_KEY"])
    scheduler, scheduled_promotion = _marketer(admin, 1)
    schedule: dict[str, float] = {}
    waiting = threading.Thread(target=lambda: schedule.update(start=_scheduled(scheduler, scheduled_promotion)))
    waiting.start()
    marketers = [_marketer(admin, sends // workers + WARM_UP_ROUNDS) for _ in range(workers)]

    def one_send(n: int) -> float:
        return _one_send(*marketers[n % workers], n)

    def run_worker(index: int) -> list[float]:
        return [one_send(n) for n in range(index, sends, workers)]

    with ThreadPoolExecutor(max_workers=workers) as pool:
        # A function instance's first invocation is a cold start (a fresh interpreter importing the handler), not a
        # marketer's usual wait: rounds of `workers` concurrent sends first start as many instances as the measured
        # run keeps busy. The slowest send of the first round is reported apart as the cold start.
        warm_up = [
            max(pool.map(one_send, range(sends + r * workers, sends + (r + 1) * workers)))
            for r in range(WARM_UP_ROUNDS)
        ]
        latencies = [seconds for part in pool.map(run_worker, range(workers)) for seconds in part]
    waiting.join(SCHEDULE_TIMEOUT + 10)
    return {
        "latency_sends": len(latencies),
        "latency_workers": workers,
        "p50_seconds": round(statistics.median(latencies), 3),
        "p99_seconds": round(percentile(latencies, 0.99), 3),
        "max_seconds": round(max(latencies), 3),
        "cold_start_seconds": round(warm_up[0], 3),
        "schedule_start_seconds": round(schedule["start"], 1) if "start" in schedule else None,
        "latency_targets": TARGETS,
    }


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("stack_env", type=Path)
    arguments.add_argument("--sends", type=int, default=SENDS)
    options = arguments.parse_args()
    figures = measure(stack_env.read(options.stack_env), options.sends)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    RESULTS.write_text(json.dumps(results | figures, indent=2) + "\n")
    for name in ("p50_seconds", "p99_seconds", "max_seconds", "cold_start_seconds", "schedule_start_seconds"):
        target = TARGETS.get(name)
        verdict = (
            "" if target is None else f"  target <= {target}: {'PASS' if (figures[name] or 1e9) <= target else 'FAIL'}"
        )
        print(f"{name:28}{figures[name]!s:>10}{verdict}")
    print(f"({figures['latency_sends']} single-recipient gift sends, {figures['latency_workers']} at a time)")


if __name__ == "__main__":
    main()
