"""Notification sends (SMS, LMS, email) through the API: estimate, create, read, list, recipients."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from shared.domain.balances import CHANNELS
from shared.domain.clock import utc_now
from shared.domain.jobs import JobQueue
from shared.domain.notifications.messages import (
    RecipientInput,
    check_notification_request,
    recipient_address,
    render_message,
)
from shared.domain.sends.sends import (
    accept_send,
    check_send_at,
    list_send_views,
    recipient_id,
    recipients_page,
    requested_send_fields,
)
from shared.domain.store import SendStore, require
from shared.domain.views import notification_recipient_view, notification_send_view
from shared.errors import InvalidInput
from shared.models.api import (
    NotificationBalance,
    NotificationRecipientView,
    NotificationSendEstimate,
    NotificationSendRequest,
    NotificationSendView,
    SendAccepted,
)
from shared.models.common import Channel, Page, RecipientStatus, RequestedChannel, SendKind, SendOrigin
from shared.models.items import Balance, RecipientState

NOTIFICATION = SendKind.NOTIFICATION


def _delivery_channels(
    channel: RequestedChannel,
    title: str | None,
    content: str,
    recipients: Sequence[RecipientInput],
    origin: SendOrigin,
) -> list[Channel | None]:
    """Each recipient's delivery channel. A request that breaks a message rule is a 422; for an automatic
    send (no caller to answer) a recipient whose rendered message breaks one fails as an invalid recipient."""
    if origin == "MANUAL":
        return list(check_notification_request(channel, title, content, recipients).channels)
    resolved: list[Channel | None] = []
    for recipient in recipients:
        try:
            resolved.append(render_message(channel, title, content, recipient.name).channel)
        except InvalidInput:
            resolved.append(None)
    return resolved


def build_recipients(
    channel: RequestedChannel,
    title: str | None,
    content: str,
    recipients: Sequence[RecipientInput],
    origin: SendOrigin,
) -> list[RecipientState]:
    now = utc_now()
    channels = _delivery_channels(channel, title, content, recipients, origin)
    states = []
    for index, (given, resolved) in enumerate(zip(recipients, channels, strict=True)):
        address = recipient_address(channel, given.phone, given.email)
        state = RecipientState(
            rid=recipient_id(index),
            phone=address.phone,
            email=address.email,
            name=given.name,
            channel=resolved,
            updated_at=now,
        )
        if not address.valid or resolved is None:
            # Settled at once: it never reaches a provider and uses no count.
            state = state.model_copy(update={"status": "FAILED", "reason": "INVALID_RECIPIENT"})
        states.append(state)
    return states


def estimate_notification_send(
    store: SendStore, account_id: str, request: NotificationSendRequest
) -> NotificationSendEstimate:
    """The counts the send would use per channel against those available (dry_run): nothing is stored."""
    context = store.send_context(account_id, request.promotion_id)
    require(context.promotion, "promotion")
    check_send_at(request.send_at, utc_now())
    recipients = build_recipients(request.channel, request.title, request.content, request.recipients, "MANUAL")
    return _estimate(recipients, require(context.balance, "account"))


def create_notification_send(
    store: SendStore,
    queue: JobQueue,
    account_id: str,
    request: NotificationSendRequest,
    batch_size: int,
    idempotency_key: str | None = None,
    origin: SendOrigin = "MANUAL",
) -> SendAccepted:
    now = utc_now()
    require(store.send_context(account_id, request.promotion_id).promotion, "promotion")
    check_send_at(request.send_at, now)
    recipients = build_recipients(request.channel, request.title, request.content, request.recipients, origin)
    return accept_send(
        store,
        queue,
        account_id=account_id,
        kind=NOTIFICATION,
        idempotency_key=idempotency_key,
        recipients=recipients,
        batch_size=batch_size,
        now=now,
        describe={**requested_send_fields(request), "channel": request.channel, "origin": origin},
    )


def _estimate(recipients: list[RecipientState], balance: Balance) -> NotificationSendEstimate:
    needed = Counter(r.channel for r in recipients if r.status == "PENDING" and r.channel)
    counts = {ch: needed.get(ch, 0) for ch in CHANNELS}
    available = {ch: balance.count(ch) for ch in CHANNELS}
    invalid = sum(1 for r in recipients if r.status == "FAILED")
    return NotificationSendEstimate(
        total=len(recipients),
        valid=len(recipients) - invalid,
        invalid=invalid,
        counts_needed=NotificationBalance(**counts),
        available_counts=NotificationBalance(**available),
        shortfall=NotificationBalance(**{ch: max(0, counts[ch] - available[ch]) for ch in counts}),
    )


def get_notification_send(store: SendStore, account_id: str, send_id: str) -> NotificationSendView:
    return notification_send_view(require(store.get_send(account_id, NOTIFICATION, send_id), "notification send"))


def list_notification_sends(
    store: SendStore, account_id: str, promotion_id: str | None, limit: int, cursor: str | None
) -> Page[NotificationSendView]:
    return list_send_views(store, account_id, NOTIFICATION, promotion_id, limit, cursor, notification_send_view)


def list_notification_recipients(
    store: SendStore, account_id: str, send_id: str, status: RecipientStatus | None, limit: int, cursor: str | None
) -> Page[NotificationRecipientView]:
    send = require(store.get_send(account_id, NOTIFICATION, send_id), "notification send")
    found, next_cursor = recipients_page(store, send, status, limit, cursor)
    return Page[NotificationRecipientView](
        items=[notification_recipient_view(r) for r in found], next_cursor=next_cursor
    )
