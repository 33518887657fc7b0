"""HttpGiftProvider against a real HTTP server on 127.0.0.1 (tests.fakes.gift_provider_server)."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
import urllib3

from shared.adapters.gift_provider import SANDBOX_CATALOG, IssueOutcome, IssueRequest, IssueResult
from shared.adapters.http_gift_provider import HttpGiftProvider
from shared.clock import gifticon_expiry, utc_now
from shared.errors import ProviderRejected, ProviderUnavailable
from tests.fakes.gift_provider_server import FakeGiftProviderServer

API_KEY = "gp-live-4f1c9a7e2b5d8c3a"
PHONE = "+821012345678"


@pytest.fixture
def fake() -> Iterator[FakeGiftProviderServer]:
    with FakeGiftProviderServer(API_KEY) as server:
        yield server


@pytest.fixture
def provider(fake: FakeGiftProviderServer) -> HttpGiftProvider:
    return HttpGiftProvider(fake.url, API_KEY, timeout_seconds=2.0)


def request(key: str = "send-1:r1:0", *, phone: str = PHONE, gift_id: str = "SBX-COFFEE") -> IssueRequest:
    return IssueRequest(idempotency_key=key, gift_id=gift_id, phone=phone, title="축하합니다!", content="1등 당첨 선물")


# -- issue: outcomes ------------------------------------------------------------------------------------------


def test_issue_returns_the_coupon_and_its_expiry(provider: HttpGiftProvider, fake: FakeGiftProviderServer) -> None:
    before = gifticon_expiry(utc_now())
    result = provider.issue(request())
    after = gifticon_expiry(utc_now())

    coupon = fake.coupon_for("send-1:r1:0")
    assert coupon is not None
    assert result == IssueResult(IssueOutcome.ISSUED, coupon_id=coupon.coupon_id, expires_on=coupon.expires_on)
    assert result.expires_on in (before, after)
    assert fake.issue_count == 1


def test_issue_sends_credentials_idempotency_key_and_json_body(
    provider: HttpGiftProvider, fake: FakeGiftProviderServer
) -> None:
    provider.issue(request("send-9:r7:2"))

    [sent] = fake.requests
    assert (sent.method, sent.path) == ("POST", "/v1/coupons")
    assert sent.header("Authorization") == f"Bearer {API_KEY}"
    assert sent.header("Idempotency-Key") == "send-9:r7:2"
    assert sent.header("Content-Type") == "application/json"
    assert sent.json() == {"gift_id": "SBX-COFFEE", "phone": PHONE, "title": "축하합니다!", "message": "1등 당첨 선물"}


def test_replaying_an_idempotency_key_returns_the_same_coupon_issued_once(
    provider: HttpGiftProvider, fake: FakeGiftProviderServer
) -> None:
    first = provider.issue(request("send-1:r1:0"))
    replay = provider.issue(request("send-1:r1:0"))
    other = provider.issue(request("send-1:r1:1"))  # a resend round is a new key: a new coupon

    assert replay == first
    assert replay.coupon_id is not None
    assert other.outcome is IssueOutcome.ISSUED and other.coupon_id != first.coupon_id
    assert fake.issue_count == 2
    assert len(fake.requests) == 3


def test_unknown_phone_is_recipient_not_found(provider: HttpGiftProvider, fake: FakeGiftProviderServer) -> None:
    assert provider.issue(request(phone="+821012340000")) == IssueResult(IssueOutcome.RECIPIENT_NOT_FOUND)
    assert fake.issue_count == 0


@pytest.mark.parametrize("gift_id", ["NO-SUCH-GIFT", "SBX-RETIRED"])  # 422 unknown, 410 discontinued
def test_unknown_or_discontinued_gift_is_gift_unavailable(
    provider: HttpGiftProvider, fake: FakeGiftProviderServer, gift_id: str
) -> None:
    assert provider.issue(request(gift_id=gift_id)) == IssueResult(IssueOutcome.GIFT_UNAVAILABLE)
    assert fake.issue_count == 0


def test_provider_outage_raises_provider_unavailable_after_one_attempt(
    provider: HttpGiftProvider, fake: FakeGiftProviderServer
) -> None:
    for _ in range(3):
        with pytest.raises(ProviderUnavailable):
            provider.issue(request(phone="+821012349999"))
    assert len(fake.requests) == 3  # one HTTP call per issue(): the adapter never retries on its own
    assert fake.issue_count == 0


def test_fails_twice_then_succeeds_per_idempotency_key(
    provider: HttpGiftProvider, fake: FakeGiftProviderServer
) -> None:
    flaky = request("send-1:r2:0", phone="+821012348888")
    for _ in range(2):
        with pytest.raises(ProviderUnavailable):
            provider.issue(flaky)
    issued = provider.issue(flaky)

    assert issued.outcome is IssueOutcome.ISSUED
    assert issued.coupon_id == fake.coupon_for("send-1:r2:0").coupon_id  # type: ignore[union-attr]
    assert fake.calls_for("send-1:r2:0") == 3
    with pytest.raises(ProviderUnavailable):  # a new key starts over
        provider.issue(request("send-1:r2:1", phone="+821012348888"))


def test_injected_pool_with_retries_still_makes_one_attempt(fake: FakeGiftProviderServer) -> None:
    pool = urllib3.PoolManager(retries=urllib3.Retry(total=5, status_forcelist=[503], backoff_factor=0))
    provider = HttpGiftProvider(fake.url, API_KEY, timeout_seconds=2.0, http=pool)

    with pytest.raises(ProviderUnavailable):
        provider.issue(request(phone="+821012349999"))
    assert len(fake.requests) == 1


# -- issue: transport failures --------------------------------------------------------------------------------


def test_timeout_is_provider_unavailable_and_the_retry_gets_the_same_coupon(fake: FakeGiftProviderServer) -> None:
    provider = HttpGiftProvider(fake.url, API_KEY, timeout_seconds=0.3)
    fake.hang_next(30)  # the provider issues the coupon, but the answer never arrives in time

    started = time.monotonic()
    with pytest.raises(ProviderUnavailable):
        provider.issue(request("send-1:r3:0"))
    assert time.monotonic() - started < 3

    issued_meanwhile = fake.coupon_for("send-1:r3:0")
    assert issued_meanwhile is not None
    retried = provider.issue(request("send-1:r3:0"))
    assert retried.coupon_id == issued_meanwhile.coupon_id
    assert fake.issue_count == 1


def test_connection_refused_is_provider_unavailable() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    provider = HttpGiftProvider(f"http://127.0.0.1:{port}", API_KEY, timeout_seconds=1.0)

    with pytest.raises(ProviderUnavailable):
        provider.issue(request())
    with pytest.raises(ProviderUnavailable):
        provider.catalog()


# -- issue: status mapping ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "outcome"),
    [
        (404, {"code": "RECIPIENT_NOT_FOUND"}, IssueOutcome.RECIPIENT_NOT_FOUND),
        (422, {"code": "RECIPIENT_NOT_FOUND"}, IssueOutcome.RECIPIENT_NOT_FOUND),
        (409, {"code": "GIFT_UNAVAILABLE"}, IssueOutcome.GIFT_UNAVAILABLE),
        (410, {"code": "GIFT_UNAVAILABLE"}, IssueOutcome.GIFT_UNAVAILABLE),
        (422, {"code": "GIFT_UNAVAILABLE"}, IssueOutcome.GIFT_UNAVAILABLE),
    ],
)
def test_definite_outcomes(
    provider: HttpGiftProvider, fake: FakeGiftProviderServer, status: int, body: Any, outcome: IssueOutcome
) -> None:
    fake.respond_next(status, body)
    assert provider.issue(request()) == IssueResult(outcome)


@pytest.mark.parametrize(
    ("status", "body", "raw"),
    [
        (408, None, None),
        (429, {"code": "RATE_LIMITED"}, None),
        (500, {"code": "INTERNAL_ERROR"}, None),
        (502, None, b"<html><body>502 Bad Gateway</body></html>"),
        (503, {"code": "SERVICE_UNAVAILABLE"}, None),
        (504, None, None),
        (409, {"code": "REQUEST_IN_PROGRESS"}, None),
        (200, None, b"<html>maintenance</html>"),
        (200, None, b"\xff\xfe not json"),
        (201, {"coupon_id": "", "expires_on": "2030-01-01"}, None),
        (201, {"coupon_id": "CPN-1"}, None),
        (200, {"coupon_id": "CPN-1", "expires_on": "next month"}, None),
        (200, ["CPN-1"], None),
        (202, {"status": "ACCEPTED"}, None),
    ],
)
def test_transient_or_unreadable_answers_are_provider_unavailable(
    provider: HttpGiftProvider, fake: FakeGiftProviderServer, status: int, body: Any, raw: bytes | None
) -> None:
    fake.respond_next(status, body, raw=raw)
    with pytest.raises(ProviderUnavailable):
        provider.issue(request())


def test_wrong_api_key_is_rejected_not_unavailable(fake: FakeGiftProviderServer) -> None:
    provider = HttpGiftProvider(fake.url, "revoked-key", timeout_seconds=2.0)

    with pytest.raises(ProviderRejected) as raised:
        provider.issue(request())
    assert not isinstance(raised.value, ProviderUnavailable)
    assert (raised.value.status, raised.value.code) == (401, "UNAUTHORIZED")
    with pytest.raises(ProviderRejected):
        provider.catalog()
    assert fake.issue_count == 0


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (403, {"code": "FORBIDDEN"}),
        (400, {"code": "VALIDATION_ERROR"}),
        (404, None),  # a 404 without RECIPIENT_NOT_FOUND: wrong path, not an unknown recipient
        (422, {"code": "INVALID_TEMPLATE"}),
        (409, {"code": "IDEMPOTENCY_KEY_REUSED"}),
        (302, None),
    ],
)
def test_non_transient_refusals_are_provider_rejected(
    provider: HttpGiftProvider, fake: FakeGiftProviderServer, status: int, body: Any
) -> None:
    fake.respond_next(status, body)
    with pytest.raises(ProviderRejected) as raised:
        provider.issue(request())
    assert raised.value.status == status


def test_wrong_endpoint_path_is_rejected(fake: FakeGiftProviderServer) -> None:
    provider = HttpGiftProvider(f"{fake.url}/api", API_KEY, timeout_seconds=2.0)
    with pytest.raises(ProviderRejected) as raised:
        provider.issue(request())
    assert raised.value.status == 404


def test_reusing_a_key_for_another_request_is_rejected(
    provider: HttpGiftProvider, fake: FakeGiftProviderServer
) -> None:
    provider.issue(request("send-1:r1:0"))
    with pytest.raises(ProviderRejected) as raised:
        provider.issue(request("send-1:r1:0", phone="+821099998877"))
    assert (raised.value.status, raised.value.code) == (409, "IDEMPOTENCY_KEY_REUSED")
    assert fake.issue_count == 1


# -- catalog --------------------------------------------------------------------------------------------------


def test_catalog_is_parsed_in_provider_order(provider: HttpGiftProvider, fake: FakeGiftProviderServer) -> None:
    gifts = provider.catalog()

    assert gifts == list(SANDBOX_CATALOG)
    assert [g.position for g in gifts] == [1, 2, 3, 4, 5]
    [sent] = fake.requests
    assert (sent.method, sent.path) == ("GET", "/v1/catalog")
    assert sent.header("Authorization") == f"Bearer {API_KEY}"


def test_catalog_position_follows_the_list_not_the_ids(
    provider: HttpGiftProvider, fake: FakeGiftProviderServer
) -> None:
    fake.set_catalog([
        {"gift_id": "Z-1", "name": "케이크", "brand": "B", "price": 30000, "status": "DISCONTINUED"},
        {"gift_id": "A-1", "name": "커피", "brand": "B", "price": 0, "status": "ON_SALE", "extra": True},
    ])
    gifts = provider.catalog()
    assert [(g.gift_id, g.name, g.price, g.status, g.position) for g in gifts] == [
        ("Z-1", "케이크", 30000, "DISCONTINUED", 1),
        ("A-1", "커피", 0, "ON_SALE", 2),
    ]


def test_empty_catalog(provider: HttpGiftProvider, fake: FakeGiftProviderServer) -> None:
    fake.set_catalog([])
    assert provider.catalog() == []


@pytest.mark.parametrize(
    ("status", "body", "raw"),
    [
        (503, {"code": "SERVICE_UNAVAILABLE"}, None),
        (429, None, None),
        (404, {"code": "NOT_FOUND"}, None),
        (200, None, b"not json"),
        (200, {"gifts": []}, None),
        (200, {"items": [{"gift_id": "X", "name": "n", "brand": "b", "price": 1, "status": "SOLD_OUT"}]}, None),
        (200, {"items": [{"gift_id": "X", "name": "n", "brand": "b", "status": "ON_SALE"}]}, None),
        (200, {"items": [{"gift_id": "X", "name": "n", "brand": "b", "price": -5, "status": "ON_SALE"}]}, None),
        (200, {"items": ["X"]}, None),
    ],
)
def test_catalog_errors_are_provider_unavailable(
    provider: HttpGiftProvider, fake: FakeGiftProviderServer, status: int, body: Any, raw: bytes | None
) -> None:
    fake.respond_next(status, body, raw=raw)
    with pytest.raises(ProviderUnavailable):
        provider.catalog()


def test_catalog_timeout_is_provider_unavailable(fake: FakeGiftProviderServer) -> None:
    provider = HttpGiftProvider(fake.url, API_KEY, timeout_seconds=0.3)
    fake.hang_next(30)
    with pytest.raises(ProviderUnavailable):
        provider.catalog()
    assert provider.catalog() == list(SANDBOX_CATALOG)  # the next call works again


# -- secrets stay out of logs and errors ----------------------------------------------------------------------


def test_no_api_key_phone_or_coupon_id_in_logs_or_errors(
    fake: FakeGiftProviderServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    provider = HttpGiftProvider(fake.url, API_KEY, timeout_seconds=0.3)
    errors: list[BaseException] = []

    issued = provider.issue(request("k1", phone=PHONE))
    provider.issue(request("k1", phone=PHONE))
    for phone in ("+821012349999", "+821012340000"):
        try:
            provider.issue(request("k2", phone=phone))
        except ProviderUnavailable as exc:
            errors.append(exc)
    fake.hang_next(30)
    with pytest.raises(ProviderUnavailable) as timed_out:
        provider.issue(request("k3", phone="+821055556666"))
    errors.append(timed_out.value)
    fake.respond_next(200, {"coupon_id": "CPN-SECRET", "expires_on": "soon"})
    with pytest.raises(ProviderUnavailable) as garbled:
        provider.issue(request("k4"))
    errors.append(garbled.value)
    with pytest.raises(ProviderRejected) as rejected:
        HttpGiftProvider(fake.url, "wrong-" + API_KEY).issue(request("k5"))
    errors.append(rejected.value)

    assert issued.coupon_id
    texts = [caplog.text, repr(provider), *(str(e) for e in errors), *(repr(r.__dict__) for r in caplog.records)]
    secrets = [API_KEY, PHONE, "+821012349999", "+821012340000", "+821055556666", issued.coupon_id, "CPN-SECRET",
               "12345678"]
    for text in texts:
        for secret in secrets:
            assert secret not in text
    assert "gift provider" in caplog.text  # the failures were logged, just without the secrets


# -- construction ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["", "gift.example.com", "ftp://gift.example.com", "https://"])
def test_endpoint_must_be_an_http_url(endpoint: str) -> None:
    with pytest.raises(ValueError, match="endpoint"):
        HttpGiftProvider(endpoint, API_KEY)


def test_api_key_is_required() -> None:
    with pytest.raises(ValueError, match="api key"):
        HttpGiftProvider("https://gift.example.com", "")


def test_trailing_slash_in_endpoint(fake: FakeGiftProviderServer) -> None:
    provider = HttpGiftProvider(f"{fake.url}/", API_KEY)
    assert provider.issue(request()).outcome is IssueOutcome.ISSUED
    assert fake.requests[0].path == "/v1/coupons"
