"""Annotated types shared by request, response and stored-item models."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import BaseModel, Field

Credits = Annotated[int, Field(ge=0, description="Credits, a non-negative integer")]
# Strict: a JSON string or boolean is not an amount.
PositiveAmount = Annotated[int, Field(gt=0, le=1_000_000_000_000, strict=True)]
Flag = Annotated[bool, Field(strict=True)]
Identifier = Annotated[str, Field(min_length=1, max_length=64)]
Channel = Literal["sms", "lms", "email"]
RequestedChannel = Literal["sms", "lms", "email", "auto"]  # auto: sms when the message fits, else lms
RecipientStatus = Literal["PENDING", "SENT", "FAILED"]
FailureReason = Literal[
    "INSUFFICIENT_CREDITS",
    "PROVIDER_ERROR",
    "INVALID_RECIPIENT",
    "GIFT_UNAVAILABLE",
    "INSUFFICIENT_NOTIFICATION_BALANCE",
    "CANCELLED",
]
SendStatus = Literal["DRAFT", "SCHEDULED", "QUEUED", "PROCESSING", "COMPLETED", "CANCELLED"]
StoredSendStatus = Literal["DRAFT", "SCHEDULED", "QUEUED", "CANCELLED"]
SendOrigin = Literal["MANUAL", "AUTO"]
GiftStatus = Literal["ON_SALE", "DISCONTINUED"]
ChargeStatus = Literal["ACTIVE", "REFUNDED"]
WebhookEventType = Literal["recipient.sent", "recipient.delivered", "recipient.failed", "send.completed", "balance.low"]
WEBHOOK_EVENT_TYPES: tuple[WebhookEventType, ...] = (
    "recipient.sent",
    "recipient.delivered",
    "recipient.failed",
    "send.completed",
    "balance.low",
)
DeliveryStatus = Literal["PENDING", "SUCCEEDED", "FAILED"]
LedgerType = Literal[
    "TOP_UP",
    "GIFT_DEBIT",
    "GIFT_REFUND",
    "CHARGE_PURCHASE",
    "CHARGE_REFUND",
    "NOTIFICATION_DEBIT",
    "NOTIFICATION_REFUND",
]


class SendKind(StrEnum):
    """What a send delivers. The values are stored (in items and in keys), so they never change."""

    GIFT = "GIFT"
    NOTIFICATION = "NOTIFICATION"


# Reasons a resend may fix: a lack of credits or counts, or a provider outage.
RESENDABLE_REASONS: frozenset[str] = frozenset(
    {"INSUFFICIENT_CREDITS", "INSUFFICIENT_NOTIFICATION_BALANCE", "PROVIDER_ERROR"}
)

ItemT = TypeVar("ItemT")


class Page(BaseModel, Generic[ItemT]):
    items: list[ItemT]
    next_cursor: str | None = None
