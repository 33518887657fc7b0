"""The gift provider port: issue one gifticon, list the catalog. Adapters: shared.adapters.gift_provider (the
sandbox), shared.adapters.giftishow (Giftishow Biz)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Protocol

from shared.models.items import GiftItem


class IssueOutcome(StrEnum):
    ISSUED = "ISSUED"
    RECIPIENT_NOT_FOUND = "RECIPIENT_NOT_FOUND"
    GIFT_UNAVAILABLE = "GIFT_UNAVAILABLE"


@dataclass(frozen=True)
class IssueRequest:
    idempotency_key: str
    gift_id: str
    phone: str  # E.164
    title: str
    content: str


@dataclass(frozen=True)
class IssueResult:
    outcome: IssueOutcome
    coupon_id: str | None = None
    expires_on: date | None = None


class GiftProvider(Protocol):
    def issue(self, request: IssueRequest) -> IssueResult:
        """Issue one gifticon and send it by MMS. Raises ProviderUnavailable on a transient failure;
        the same idempotency key never issues twice."""
        ...

    def catalog(self) -> list[GiftItem]: ...
