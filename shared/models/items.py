"""What is stored in DynamoDB. Keys are built in shared.adapters.store.keys, not here."""

from __future__ import annotations

import zlib
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from shared.models.common import (
    Channel,
    ChargeStatus,
    Credits,
    DeliveryStatus,
    FailureReason,
    GiftStatus,
    LedgerType,
    RecipientStatus,
    RequestedChannel,
    SendKind,
    SendOrigin,
    StoredSendStatus,
    WebhookEventType,
)


class _Stored(BaseModel):
    model_config = ConfigDict(extra="ignore")


class AccountItem(_Stored):
    account_id: str
    name: str
    gift_sending_approved: bool = False
    created_at: datetime


class OpenCharge(_Stored):
    """A charge with counts left, in the balance item's oldest-first list for its channel."""

    charge_id: str
    remaining: int = Field(ge=0)


class Balance(_Stored):
    """The account's balance item: written only through conditional, versioned writes. Per channel, the
    count equals the sum of `remaining` over that channel's open charges (oldest first)."""

    account_id: str
    credits: Credits = 0
    sms: int = Field(0, ge=0)
    lms: int = Field(0, ge=0)
    email: int = Field(0, ge=0)
    open_charges: dict[Channel, list[OpenCharge]] = Field(default_factory=dict)
    version: int = 0

    def count(self, channel: Channel) -> int:
        return int(getattr(self, channel))

    def open_for(self, channel: Channel) -> list[OpenCharge]:
        return list(self.open_charges.get(channel, []))


class AlertSettings(_Stored):
    credits_below: int | None = Field(None, ge=0)
    counts_below: dict[Channel, int] = Field(default_factory=dict)


class ChargeItem(_Stored):
    charge_id: str
    account_id: str
    channel: Channel
    quantity: int = Field(gt=0)
    unit_credits: int = Field(ge=0)
    credits_spent: Credits
    created_at: datetime
    refundable_until: datetime
    status: ChargeStatus = "ACTIVE"


class OutboxEvent(_Stored):
    """An event written in the same transaction as the change that caused it, published after commit."""

    event_id: str
    account_id: str
    detail_type: str
    detail: dict[str, Any]
    created_at: datetime


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


class AutoNotification(_Stored):
    """The notification a promotion's winners get without further calls."""

    enabled: bool
    channel: RequestedChannel
    title: str | None = None
    content: str


class PromotionItem(_Stored):
    promotion_id: str
    account_id: str
    name: str
    created_at: datetime
    auto_notification: AutoNotification | None = None


class RecipientState(_Stored):
    """One recipient inside a batch item. Short attribute names keep 50 recipients in a few KB."""

    rid: str
    phone: str | None = None
    email: str | None = None
    channel: Channel | None = None  # notifications: the channel this recipient's message goes by
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
    # A provider error's automatic retry (None once no retry is left); on a resent PENDING recipient, when the
    # retry job queues its batch again if no job came.
    retry_at: datetime | None = None
    delivered_at: datetime | None = None  # notifications: when the provider reported the message delivered
    charge_id: str | None = None  # notifications: the charge whose count a sent message used (for a late refund)


class CountsTaken(_Stored):
    charge_id: str
    count: int


class Reservation(_Stored):
    """Credits or counts taken for a batch and not yet settled: the durable record between debit and outcome."""

    price: Credits = 0
    charged: list[str]  # recipient ids whose price (or count) was taken
    short: list[str]  # recipient ids the balance did not cover
    entry_id: str
    counts_taken: dict[Channel, list[CountsTaken]] = Field(default_factory=dict)  # charges used per channel


class BatchItem(_Stored):
    """Stored with its recipients packed (``pack_recipients``); read back from either form."""

    send_id: str
    account_id: str
    kind: SendKind
    batch_no: int
    version: int = 0
    recipients: list[RecipientState]
    reservation: Reservation | None = None

    @field_validator("recipients", mode="before")
    @classmethod
    def _unpack(cls, value: Any) -> Any:
        # Packed: bytes, or boto3's Binary (which converts to bytes) where a reader used boto3's deserializer.
        if isinstance(value, bytes) or hasattr(value, "__bytes__"):
            return _RECIPIENT_LIST.validate_json(zlib.decompress(bytes(value)))
        return value


_RECIPIENT_LIST = TypeAdapter(list[RecipientState])


def pack_recipients(recipients: list[RecipientState]) -> bytes:
    """A batch's recipients as zlib-compressed JSON, one binary attribute. A batch item is written three times
    (stored, reserved, settled), DynamoDB charges a write unit per started KB (two in a transaction), and 50
    recipients as a list of maps are about 13 KB; packed, a few KB at most. AWS's advice for large attributes
    ("Best practices for storing large items and attributes": compress them and store them as Binary)."""
    return zlib.compress(_RECIPIENT_LIST.dump_json(recipients, exclude_none=True))


class SendCounts(_Stored):
    total: int = 0
    pending: int = 0
    sent: int = 0
    failed: int = 0
    resendable: int = 0
    retrying: int = 0  # failed recipients waiting for an automatic retry (the send is not finished)


class SendItem(_Stored):
    send_id: str
    account_id: str
    kind: SendKind
    promotion_id: str
    gift_id: str | None = None
    channel: RequestedChannel | None = None  # notifications only
    title: str | None = None
    content: str
    status: StoredSendStatus
    origin: SendOrigin = "MANUAL"
    created_at: datetime
    send_at: datetime | None = None
    batch_size: int
    batch_count: int
    counts: SendCounts
    processed: int = 0  # recipients settled at least once: QUEUED vs PROCESSING
    # `processed` when send.completed was last announced: a send completes again after a resend.
    announced_processed: int | None = None


class WinnerState(_Stored):
    wid: str
    name: str
    phone: str | None = None
    email: str | None = None


class WinnerChunk(_Stored):
    """Up to 50 winners of one draw (one POST /promotions/{id}/winners), in the order given."""

    account_id: str
    promotion_id: str
    draw_id: str
    chunk_no: int
    recorded_at: datetime
    winners: list[WinnerState]


class AccountEvent(_Stored):
    """What a webhook is told: one change of an account's recipients, sends or balance."""

    event_id: str
    type: WebhookEventType
    occurred_at: datetime
    data: dict[str, Any]


class WebhookItem(_Stored):
    webhook_id: str
    account_id: str
    url: str
    events: list[WebhookEventType]
    description: str | None = None
    enabled: bool = True
    created_at: datetime
    secret_ciphertext: str  # the signing secret, encrypted with the service's KMS key


class WebhookDeliveryItem(_Stored):
    """One event for one webhook. `body` is the exact JSON posted, so every attempt sends the same bytes."""

    delivery_id: str
    account_id: str
    webhook_id: str
    event_id: str
    type: WebhookEventType
    body: str
    status: DeliveryStatus = "PENDING"
    attempts: int = 0
    schedule_from: int = 0  # attempts made before the current retry schedule began (a replay starts a new one)
    last_status_code: int | None = None
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
