"""The sandbox adapter of the gift provider port (shared.domain.gifts.provider).

The sandbox follows the contract's sandbox table and keeps its own provider-side state (issued coupons,
calls per idempotency key) in DynamoDB, like a real provider would, so idempotency holds across Lambda
invocations and crashes.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime
from typing import Any

from shared.domain.clock import gifticon_expiry, to_rfc3339, utc_now
from shared.domain.gifts.provider import IssueOutcome, IssueRequest, IssueResult
from shared.errors import ProviderUnavailable
from shared.models.items import GiftItem

SANDBOX_CATALOG: tuple[GiftItem, ...] = tuple(
    GiftItem(gift_id=gift_id, name=name, brand=brand, price=price, status=status, position=position)
    for position, (gift_id, name, brand, price, status) in enumerate(
        [
            ("SBX-COFFEE", "Americano (Tall)", "Sandbox Coffee", 4_500, "ON_SALE"),
            ("SBX-CAKE", "Strawberry Cake", "Sandbox Bakery", 25_000, "ON_SALE"),
            ("SBX-CHICKEN", "Fried Chicken Set", "Sandbox Chicken", 20_000, "ON_SALE"),
            ("SBX-MOVIE", "Movie Ticket", "Sandbox Cinema", 13_000, "ON_SALE"),
            ("SBX-RETIRED", "Retired Voucher", "Sandbox Market", 3_000, "DISCONTINUED"),
        ],
        start=1,
    )
)

_NOT_FOUND_SUFFIX = "0000"
_ALWAYS_FAILS_SUFFIX = "9999"
_FAILS_TWICE_SUFFIX = "8888"


class SandboxGiftProvider:
    """Sandbox outcomes by the phone's last four digits; state in the provider's own DynamoDB items."""

    def __init__(self, client: Any, table_name: str, catalog: tuple[GiftItem, ...] = SANDBOX_CATALOG) -> None:
        self._client = client
        self._table = table_name
        self._catalog = catalog

    def catalog(self) -> list[GiftItem]:
        return list(self._catalog)

    def issue(self, request: IssueRequest) -> IssueResult:
        gift = next((g for g in self._catalog if g.gift_id == request.gift_id), None)
        if gift is None or gift.status != "ON_SALE":
            return IssueResult(IssueOutcome.GIFT_UNAVAILABLE)
        if request.phone.endswith(_NOT_FOUND_SUFFIX):
            return IssueResult(IssueOutcome.RECIPIENT_NOT_FOUND)
        now = utc_now()
        # One atomic call both counts this call and issues the coupon at most once per key.
        response = self._client.update_item(
            TableName=self._table,
            Key={"pk": {"S": f"SANDBOX_PROVIDER#ISSUE#{request.idempotency_key}"}, "sk": {"S": "ISSUE"}},
            UpdateExpression="ADD calls :one SET candidate = :coupon, first_call_at = "
            "if_not_exists(first_call_at, :now)",
            ExpressionAttributeValues={
                ":one": {"N": "1"},
                ":coupon": {"S": f"CPN-{secrets.token_hex(8).upper()}"},
                ":now": {"S": to_rfc3339(now)},
            },
            ReturnValues="ALL_NEW",
        )
        calls = int(response["Attributes"]["calls"]["N"])
        if request.phone.endswith(_ALWAYS_FAILS_SUFFIX) or (request.phone.endswith(_FAILS_TWICE_SUFFIX) and calls <= 2):
            raise ProviderUnavailable("sandbox provider: service unavailable")
        return self._issue_once(request.idempotency_key, now)

    def _issue_once(self, key: str, now: datetime) -> IssueResult:
        response = self._client.update_item(
            TableName=self._table,
            Key={"pk": {"S": f"SANDBOX_PROVIDER#ISSUE#{key}"}, "sk": {"S": "ISSUE"}},
            UpdateExpression="SET coupon_id = if_not_exists(coupon_id, candidate), "
            "expires_on = if_not_exists(expires_on, :expires), issued_count = if_not_exists(issued_count, :one)",
            ExpressionAttributeValues={
                ":expires": {"S": gifticon_expiry(now).isoformat()},
                ":one": {"N": "1"},
            },
            ReturnValues="ALL_NEW",
        )
        attributes = response["Attributes"]
        return IssueResult(
            IssueOutcome.ISSUED,
            coupon_id=attributes["coupon_id"]["S"],
            expires_on=date.fromisoformat(attributes["expires_on"]["S"]),
        )
