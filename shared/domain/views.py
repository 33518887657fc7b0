"""How sends and recipients are shown: the API's views, and the data of the webhook events about them (a
recipient event carries the recipient exactly as `GET .../recipients` shows it)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from shared.models.api import (
    CouponView,
    GiftRecipientView,
    GiftSendView,
    NotificationRecipientView,
    NotificationSendView,
    SendCountsView,
)
from shared.models.common import SendKind, SendStatus
from shared.models.items import RecipientState, SendItem


def effective_status(send: SendItem) -> SendStatus:
    """A queued send is COMPLETED once nothing is pending and no provider error waits for an automatic retry."""
    if send.status != "QUEUED":
        return send.status
    if send.counts.pending == 0:
        return "PROCESSING" if send.counts.retrying else "COMPLETED"
    return "PROCESSING" if send.processed > 0 else "QUEUED"


def next_retry_at(recipient: RecipientState) -> datetime | None:
    """When the service will retry a provider error by itself (None for anyone else, or once none is left)."""
    return recipient.retry_at if recipient.status == "FAILED" and recipient.reason == "PROVIDER_ERROR" else None


def counts_view(send: SendItem) -> SendCountsView:
    return SendCountsView.model_validate(send.counts.model_dump())


def send_view_fields(send: SendItem) -> dict[str, Any]:
    """What every send shows, gift or notification (the API's _SendView)."""
    return {
        "send_id": send.send_id,
        "promotion_id": send.promotion_id,
        "content": send.content,
        "status": effective_status(send),
        "origin": send.origin,
        "created_at": send.created_at,
        "send_at": send.send_at,
        "counts": counts_view(send),
    }


def recipient_view_fields(state: RecipientState) -> dict[str, Any]:
    """What every recipient shows, gift or notification (the API's _RecipientView) but the credits it cost."""
    return {
        "recipient_id": state.rid,
        "name": state.name,
        "status": state.status,
        "failure_reason": state.reason,
        "resendable": state.resendable,
        "attempts": state.attempts,
        "sent_at": state.sent_at,
        "updated_at": state.updated_at,
        "next_retry_at": next_retry_at(state),
    }


def gift_send_view(send: SendItem) -> GiftSendView:
    return GiftSendView(**send_view_fields(send), gift_id=send.gift_id or "", title=send.title or "")


def gift_recipient_view(state: RecipientState) -> GiftRecipientView:
    coupon = None
    if state.coupon_id and state.expires_on:
        coupon = CouponView(coupon_id=state.coupon_id, expires_on=date.fromisoformat(state.expires_on))
    return GiftRecipientView(
        **recipient_view_fields(state), phone=state.phone or "", charged_credits=state.charged, coupon=coupon
    )


def notification_send_view(send: SendItem) -> NotificationSendView:
    return NotificationSendView(**send_view_fields(send), channel=send.channel, title=send.title)


def notification_recipient_view(state: RecipientState) -> NotificationRecipientView:
    return NotificationRecipientView(
        **recipient_view_fields(state),
        channel=state.channel,
        phone=state.phone,
        email=state.email,
        charged_credits=0,
        delivered_at=state.delivered_at,
    )


def recipient_view(kind: SendKind, state: RecipientState) -> GiftRecipientView | NotificationRecipientView:
    return gift_recipient_view(state) if kind == SendKind.GIFT else notification_recipient_view(state)


def send_view(send: SendItem) -> GiftSendView | NotificationSendView:
    return gift_send_view(send) if send.kind == SendKind.GIFT else notification_send_view(send)
