"""What the API accepts and returns (the public contract's shapes)."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from shared.models.common import (
    Channel,
    ChargeStatus,
    Credits,
    DeliveryStatus,
    FailureReason,
    Flag,
    GiftStatus,
    Identifier,
    LedgerType,
    PositiveAmount,
    RecipientStatus,
    RequestedChannel,
    SendOrigin,
    SendStatus,
    WebhookEventType,
)
from shared.models.text import contains_control_characters, contains_emoji

_RFC3339_START = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


class _ApiModel(BaseModel):
    # A function builds only the models it uses (the first use builds one): most import this module for a few.
    model_config = ConfigDict(defer_build=True)


class _Request(_ApiModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


def _plain_text(value: str) -> str:
    if contains_emoji(value):
        raise ValueError("emoji are not allowed")
    if contains_control_characters(value):
        raise ValueError("control characters are not allowed")
    return value


def _rfc3339_text(value: object) -> object:
    # Pydantic would also read a number, or a string of digits, as Unix time; the contract's timestamps are
    # RFC 3339 text (a datetime built in code passes through).
    if (isinstance(value, str) and _RFC3339_START.match(value)) or isinstance(value, datetime):
        return value
    raise ValueError("send_at must be an RFC 3339 timestamp, e.g. 2026-11-24T10:00:00+09:00")


def _has_offset(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("send_at needs a UTC offset, e.g. 2026-11-24T10:00:00+09:00")
    return value


ScheduledAt = Annotated[datetime, BeforeValidator(_rfc3339_text), AfterValidator(_has_offset)]
GiftTitle = Annotated[str, Field(min_length=1, max_length=10), AfterValidator(_plain_text)]
GiftContent = Annotated[str, Field(min_length=1, max_length=1500), AfterValidator(_plain_text)]
DisplayName = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_plain_text)]
# Only sizes here: shared.domain.notifications.messages parses phones and addresses and checks each channel's own
# limits.
Phone = Annotated[str, Field(max_length=100)]
EmailAddress = Annotated[str, Field(max_length=320)]
NotificationTitle = Annotated[str, Field(max_length=200)]
NotificationContent = Annotated[str, Field(min_length=1, max_length=100_000)]


# --- admin -------------------------------------------------------------------------------------


class CreateAccountRequest(_Request):
    name: DisplayName


class AccountCreated(_ApiModel):
    account_id: str
    name: str
    api_key: str


def _sign_in_email(value: str) -> str:
    # Cognito keeps the address as given; lower case makes one person one user.
    from email_validator import EmailNotValidError, validate_email  # about 30 ms to import: only user creation

    try:
        return validate_email(value.strip(), check_deliverability=False, allow_smtputf8=False).normalized.lower()
    except EmailNotValidError as err:
        raise ValueError(str(err)) from err


class CreateUserRequest(_Request):
    email: Annotated[str, Field(max_length=254), AfterValidator(_sign_in_email)]
    name: DisplayName | None = None


class UserCreated(_ApiModel):
    user_id: str
    account_id: str
    email: str
    temporary_password: str


class GiftApprovalRequest(_Request):
    approved: Flag


class GiftApproval(_ApiModel):
    account_id: str
    gift_sending_approved: bool


class TopUpRequest(_Request):
    amount: PositiveAmount
    reference: Annotated[str, Field(min_length=1, max_length=128)]


class CreditsBalance(_ApiModel):
    account_id: str
    credits: Credits


class CatalogSyncResult(_ApiModel):
    updated: int
    discontinued: int


# --- account -----------------------------------------------------------------------------------


class NotificationBalance(_ApiModel):
    sms: int
    lms: int
    email: int


class AccountView(_ApiModel):
    account_id: str
    name: str
    gift_sending_approved: bool
    credits: Credits
    notification_balance: NotificationBalance


class NotificationDelta(_ApiModel):
    channel: Channel
    count: int


class LedgerEntryView(_ApiModel):
    entry_id: str
    created_at: datetime
    type: LedgerType
    credits_delta: int
    notification_delta: NotificationDelta | None
    quantity: int
    send_id: str | None
    charge_id: str | None
    reference: str | None


class AlertsView(_Request):
    credits_below: Annotated[int, Field(ge=0, strict=True)] | None = None
    counts_below: dict[Channel, Annotated[int, Field(ge=0, strict=True)]] = Field(default_factory=dict)


# --- charges -----------------------------------------------------------------------------------


class PricingView(_ApiModel):
    notification_unit_credits: NotificationBalance


class ChargeRequest(_Request):
    channel: Channel
    quantity: Annotated[int, Field(gt=0, le=10_000_000, strict=True)]


class ChargeView(_ApiModel):
    charge_id: str
    channel: Channel
    quantity: int
    credits_spent: Credits
    created_at: datetime
    refundable_until: datetime
    status: ChargeStatus


class ChargeRefund(_ApiModel):
    charge_id: str
    status: Literal["REFUNDED"] = "REFUNDED"
    credits_refunded: Credits


# --- catalog, promotions -----------------------------------------------------------------------


class GiftView(_ApiModel):
    gift_id: str
    name: str
    brand: str
    price: Credits
    status: GiftStatus
    validity_days: int = 30


class CreatePromotionRequest(_Request):
    name: DisplayName


class PromotionView(_ApiModel):
    promotion_id: str
    name: str
    created_at: datetime
    auto_notification: dict | None = None


# --- gift sends --------------------------------------------------------------------------------


class GiftRecipientInput(_Request):
    phone: Phone
    name: DisplayName | None = None


class _SendTiming(_Request):
    """When a send goes: now (default), at `send_at`, after `submit` (draft), or never (dry_run)."""

    send_at: ScheduledAt | None = None
    draft: Flag = False
    dry_run: Flag = False


class GiftSendRequest(_SendTiming):
    promotion_id: Identifier
    gift_id: Identifier
    title: GiftTitle
    content: GiftContent
    recipients: Annotated[list[GiftRecipientInput], Field(min_length=1, max_length=10_000)]


class SendAccepted(_ApiModel):
    send_id: str
    status: SendStatus
    total: int
    invalid: int


class GiftSendEstimate(_ApiModel):
    total: int
    valid: int
    invalid: int
    unit_price: Credits
    estimated_credits: Credits
    available_credits: Credits
    shortfall: Credits


class SendCountsView(_ApiModel):
    total: int
    pending: int
    sent: int
    failed: int
    resendable: int


class _SendView(_ApiModel):
    """What every send shows, gift or notification."""

    send_id: str
    promotion_id: str
    content: str
    status: SendStatus
    origin: SendOrigin
    created_at: datetime
    send_at: datetime | None
    counts: SendCountsView


class GiftSendView(_SendView):
    gift_id: str
    title: str


class CouponView(_ApiModel):
    coupon_id: str
    expires_on: date


class _RecipientView(_ApiModel):
    """What every recipient shows, gift or notification."""

    recipient_id: str
    name: str | None
    status: RecipientStatus
    failure_reason: FailureReason | None
    resendable: bool
    attempts: int
    charged_credits: Credits
    sent_at: datetime | None
    updated_at: datetime
    next_retry_at: datetime | None  # a provider error the service will retry by itself, and when


class GiftRecipientView(_RecipientView):
    phone: str
    coupon: CouponView | None


class HealthView(_ApiModel):
    status: Literal["ok"] = "ok"


class ErrorBody(_ApiModel):
    code: str
    message: str
    details: list[dict] | None = None


# --- notification sends ------------------------------------------------------------------------


class NotificationRecipientInput(_Request):
    phone: Phone | None = None
    email: EmailAddress | None = None
    name: DisplayName | None = None


class NotificationSendRequest(_SendTiming):
    promotion_id: Identifier
    channel: RequestedChannel
    title: NotificationTitle | None = None
    content: NotificationContent
    recipients: Annotated[list[NotificationRecipientInput], Field(min_length=1, max_length=10_000)]


class NotificationSendEstimate(_ApiModel):
    total: int
    valid: int
    invalid: int
    counts_needed: NotificationBalance
    available_counts: NotificationBalance
    shortfall: NotificationBalance


class NotificationSendView(_SendView):
    channel: RequestedChannel
    title: str | None


class NotificationRecipientView(_RecipientView):
    channel: Channel | None
    phone: str | None
    email: str | None
    delivered_at: datetime | None  # when the provider reported the message delivered (null until then)
    coupon: CouponView | None = None


# --- winners and automatic notifications -------------------------------------------------------


class AutoNotificationRequest(_Request):
    enabled: Flag
    channel: RequestedChannel
    title: NotificationTitle | None = None
    content: NotificationContent


class WinnerInput(_Request):
    name: DisplayName
    phone: Phone | None = None
    email: EmailAddress | None = None


class RecordWinnersRequest(_Request):
    winners: Annotated[list[WinnerInput], Field(min_length=1, max_length=10_000)]


class WinnersAccepted(_ApiModel):
    accepted: int


class WinnerView(_ApiModel):
    winner_id: str
    name: str
    phone: str | None
    email: str | None
    recorded_at: datetime


class Resent(_ApiModel):
    resent: int


class NotificationResendRequest(_Request):
    channel: Channel | None = None


# --- webhooks ----------------------------------------------------------------------------------


def _distinct_events(events: list[WebhookEventType]) -> list[WebhookEventType]:
    return list(dict.fromkeys(events))


class CreateWebhookRequest(_Request):
    url: Annotated[str, Field(min_length=1, max_length=2048, description="https:// endpoint that receives events")]
    events: Annotated[list[WebhookEventType], Field(min_length=1, max_length=5), AfterValidator(_distinct_events)]
    description: Annotated[str, Field(max_length=200), AfterValidator(_plain_text)] | None = None


class WebhookView(_ApiModel):
    webhook_id: str
    url: str
    events: list[WebhookEventType]
    description: str | None
    enabled: bool
    created_at: datetime


class WebhookCreated(WebhookView):
    secret: str = Field(description="whsec_ + base64: the signing secret, shown only in this answer")


class WebhookDeliveryView(_ApiModel):
    delivery_id: str
    event_id: str
    type: WebhookEventType
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None = Field(None, description="Why the last attempt failed when there was no HTTP answer")
    next_attempt_at: datetime | None
    created_at: datetime


class DeliveryRetried(_ApiModel):
    delivery_id: str
    status: DeliveryStatus
