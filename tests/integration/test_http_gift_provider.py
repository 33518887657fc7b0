"""HttpGiftProvider against a real HTTP server on 127.0.0.1 (tests.fakes.gift_provider_server): what only the gift
provider has (coupons, gift availability, the catalog). What it shares with the SMS gateway is in
test_http_providers.py."""

from __future__ import annotations

from typing import Any

import pytest

from shared.adapters.gift_provider import SANDBOX_CATALOG, IssueOutcome, IssueResult
from shared.adapters.http_gift_provider import HttpGiftProvider
from shared.clock import gifticon_expiry, utc_now
from shared.errors import ProviderUnavailable
from tests.fakes.gift_provider_server import FakeGiftProviderServer
from tests.integration.http_providers import GIFT_API_KEY as API_KEY
from tests.integration.http_providers import PHONE, assert_authorised_json_post, fake_server_fixture, gift_request

fake = fake_server_fixture(FakeGiftProviderServer, API_KEY)


@pytest.fixture
def provider(fake: FakeGiftProviderServer) -> HttpGiftProvider:
    return HttpGiftProvider(fake.url, API_KEY, timeout_seconds=2.0)


# -- issue ----------------------------------------------------------------------------------------------------


def test_issue_returns_the_coupon_and_its_expiry(provider: HttpGiftProvider, fake: FakeGiftProviderServer) -> None:
    before = gifticon_expiry(utc_now())
    result = provider.issue(gift_request())
    after = gifticon_expiry(utc_now())

    coupon = fake.coupon_for("send-1:r1:0")
    assert coupon is not None
    assert result == IssueResult(IssueOutcome.ISSUED, coupon_id=coupon.coupon_id, expires_on=coupon.expires_on)
    assert result.expires_on in (before, after)
    assert fake.issue_count == 1


def test_issue_sends_credentials_idempotency_key_and_json_body(
    provider: HttpGiftProvider, fake: FakeGiftProviderServer
) -> None:
    provider.issue(gift_request("send-9:r7:2"))

    [sent] = fake.requests
    assert_authorised_json_post(sent, "/v1/coupons", API_KEY, "send-9:r7:2")
    assert sent.json() == {"gift_id": "SBX-COFFEE", "phone": PHONE, "title": "축하합니다!", "message": "1등 당첨 선물"}


@pytest.mark.parametrize("gift_id", ["NO-SUCH-GIFT", "SBX-RETIRED"])  # 422 unknown, 410 discontinued
def test_unknown_or_discontinued_gift_is_gift_unavailable(
    provider: HttpGiftProvider, fake: FakeGiftProviderServer, gift_id: str
) -> None:
    assert provider.issue(gift_request(gift_id=gift_id)) == IssueResult(IssueOutcome.GIFT_UNAVAILABLE)
    assert fake.issue_count == 0


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
    fake.set_catalog(
        [
            {"gift_id": "Z-1", "name": "케이크", "brand": "B", "price": 30000, "status": "DISCONTINUED"},
            {"gift_id": "A-1", "name": "커피", "brand": "B", "price": 0, "status": "ON_SALE", "extra": True},
        ]
    )
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
