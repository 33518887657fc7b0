"""The per-account request limit through the API handler, on moto, with small limits and a clock the test moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.api import fair_use
from shared import settings
from tests.integration.api_client import ADMIN, ApiClient, new_account

RATE, BURST = 5, 10  # windows of 2 s
WINDOW_START = datetime(2030, 1, 1, 0, 0, 0, tzinfo=UTC)  # an even second: a window starts here


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Clock:
    monkeypatch.setenv("ACCOUNT_REQUESTS_PER_SECOND", str(RATE))
    monkeypatch.setenv("ACCOUNT_REQUEST_BURST", str(BURST))
    settings.api_settings.cache_clear()
    moment = Clock(WINDOW_START + timedelta(milliseconds=500))
    monkeypatch.setattr(fair_use, "utc_now", moment)
    return moment


def _use_up_the_window(client: ApiClient) -> None:
    for _ in range(BURST):
        reply = client.get("/account")
        assert reply.status == 200, reply


def _assert_rate_limited(reply: Any, retry_after: int) -> None:
    assert reply.status == 429, reply
    assert reply.body["code"] == "RATE_LIMITED", reply
    assert set(reply.body) == {"code", "message"}, reply
    assert reply.headers["Retry-After"] == str(retry_after), reply.headers


def test_past_the_limit_a_request_is_429_with_retry_after_and_nothing_is_done(clock: Clock) -> None:
    client = new_account()
    _use_up_the_window(client)
    _assert_rate_limited(client.post("/promotions", {"name": "Too many"}), retry_after=2)  # 1.5 s left
    clock.now += timedelta(seconds=1)
    _assert_rate_limited(client.get("/account"), retry_after=1)  # 0.5 s left: still a whole second

    clock.now = WINDOW_START + timedelta(seconds=2)  # the next window
    listed = client.get("/promotions")
    assert listed.status == 200, listed
    assert listed.body["items"] == [], "the refused POST created a promotion"


def test_a_refused_request_is_refused_before_its_body_or_route_is_looked_at(clock: Clock) -> None:
    client = new_account()
    _use_up_the_window(client)
    _assert_rate_limited(client.call("POST", "/promotions", raw_body="{not json"), retry_after=2)
    _assert_rate_limited(client.post("/promotions", {"unknown": 1}), retry_after=2)
    _assert_rate_limited(client.get("/no-such-route"), retry_after=2)
    _assert_rate_limited(client.get("/admin/accounts"), retry_after=2)  # counted like any other of its requests


def test_the_429_carries_the_cors_headers_and_exposes_retry_after(clock: Clock) -> None:
    client = new_account()
    _use_up_the_window(client)
    reply = client.call("GET", "/account", headers={"Origin": "https://d1234.cloudfront.net"})
    _assert_rate_limited(reply, retry_after=2)
    assert reply.headers["Access-Control-Allow-Origin"] == "*"
    assert "retry-after" in reply.headers["Access-Control-Expose-Headers"].lower()


def test_another_account_is_not_slowed(clock: Clock) -> None:
    busy, other = new_account("Busy"), new_account("Other")
    _use_up_the_window(busy)
    _assert_rate_limited(busy.get("/account"), retry_after=2)
    _use_up_the_window(other)  # its own full window, in the same moment
    _assert_rate_limited(other.get("/account"), retry_after=2)


def test_the_admin_key_health_and_the_preflight_are_not_limited(clock: Clock) -> None:
    client = new_account()
    _use_up_the_window(client)
    for _ in range(3 * BURST):
        approval = ADMIN.post(f"/admin/accounts/{client.account_id}/gift-approval", {"approved": True})
        assert approval.status == 200, approval
        assert ApiClient(role=None).get("/health").status == 200
        assert client.get("/health").status == 200  # even when a key comes along
        preflight = client.call("OPTIONS", "/account", headers={"Access-Control-Request-Method": "GET"})
        assert preflight.status == 204
    _assert_rate_limited(client.get("/account"), retry_after=2)  # the account's own window is still full


def test_an_unauthenticated_request_is_still_401(clock: Clock) -> None:
    for _ in range(BURST + 1):
        assert ApiClient(role=None).get("/account").status == 401


def test_the_openapi_document_lists_429_with_retry_after_on_every_authenticated_operation(aws: Any) -> None:
    document = ApiClient(role=None).get("/swagger", query={"format": "json"}).body
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if path == "/health":
                assert "429" not in operation["responses"]
                continue
            limited = operation["responses"]["429"]
            assert "RATE_LIMITED" in limited["description"], (path, method)
            assert limited["headers"]["Retry-After"]["schema"]["type"] == "integer", (path, method)
