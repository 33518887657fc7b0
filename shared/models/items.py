"""What is stored in DynamoDB. Keys are built in shared.adapters.keys, not here."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from shared.models.common import (
    Channel,
    Credits,
    FailureReason,
    GiftStatus,
    LedgerType,
    RecipientStatus,
    SendOrigin,
    StoredSendStatus,
)


class _Stored(BaseModel):
    model_config = ConfigDict(extra="ignore")


class AccountItem(_Stored):
    account_id: str
    name: str
    gift_sending_approved: bool = False
    created_at: datetime


class Balance(_Stored):
    """The account's balance item: written only through conditional, versioned writes."""

    account_id: str
    credits: Credits = 0
    sms: int = Field(0, ge=0)
    lms: int = Field(0, ge=0)
    email: int = Field(0, ge=0)
    version: int = 0

    def count(self, channel: Channel) -> int:
        return int(getattr(self, channel))


class LedgerEntryItem(_Stored):
    entry_id: str
    account_id: str
    created_at: datetime
    type: LedgerType
    credits_delta: int = 0
    notification_channel: Channel | None = None
    notification_count: int | None = None
    quantity: int = 1
    send_id: str | None = None
    charge_id: str | None = None
    reference: str | None = None
    credits_after: int | None = None


class GiftItem(_Stored):
    gift_id: str
    name: str
    brand: str
    price: Credits
    status: GiftStatus
    validity_days: int = 30
    position: int = 0


class PromotionItem(_Stored):
    promotion_id: str
    account_id: str
    name: str
    created_at: datetime
    auto_notification: dict | None = None


class RecipientState(_Stored):
    """One recipient inside a batch item. Short attribute names keep 50 recipients in a few KB."""

    rid: str
    phone: str
    name: str | None = None
    status: RecipientStatus = "PENDING"
    reason: FailureReason | None = None
    resendable: bool = False
    attempts: int = 0
    round: int = 0  # resend generation: part of the provider idempotency key
    charged: int = 0
    coupon_id: str | None = None
    expires_on: str | None = None
    sent_at: datetime | None = None
    updated_at: datetime


class Reservation(_Stored):
    """Credits taken for a batch and not yet settled: the durable record between debit and outcome."""

    price: Credits
    charged: list[str]  # recipient ids whose price was debited
    short: list[str]  # recipient ids the balance did not cover
    entry_id: str


class BatchItem(_Stored):
    send_id: str
    account_id: str
    batch_no: int
    version: int = 0
    recipients: list[RecipientState]
    reservation: Reservation | None = None


class SendCounts(_Stored):
    total: int = 0
    pending: int = 0
    sent: int = 0
    failed: int = 0
    resendable: int = 0


class SendItem(_Stored):
    send_id: str
    account_id: str
    kind: str  # "GIFT" | "NOTIFICATION"
    promotion_id: str
    gift_id: str | None = None
    title: str
    content: str
    status: StoredSendStatus
    origin: SendOrigin = "MANUAL"
    created_at: datetime
    send_at: datetime | None = None
    batch_size: int
    batch_count: int
    counts: SendCounts
    processed: int = 0  # recipients settled at least once: QUEUED vs PROCESSING
