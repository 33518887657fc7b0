"""Gift sends through the API: estimate, create, read, list, and the recipients view."""

from __future__ import annotations

from datetime import datetime

from shared.domain.clock import utc_now
from shared.domain.jobs import JobQueue
from shared.domain.recipients import normalize_korean_mobile
from shared.domain.sends.sends import (
    accept_send,
    check_send_at,
    list_send_views,
    recipient_id,
    recipients_page,
    requested_send_fields,
)
from shared.domain.store import SendStore, require
from shared.domain.views import gift_recipient_view, gift_send_view
from shared.errors import GiftSendingNotApproved, GiftUnavailable
from shared.models.api import (
    GiftRecipientView,
    GiftSendEstimate,
    GiftSendRequest,
    GiftSendView,
    SendAccepted,
)
from shared.models.common import Page, RecipientStatus, SendKind
from shared.models.items import Balance, GiftItem, RecipientState

GIFT = SendKind.GIFT


def _normalized_recipients(request: GiftSendRequest) -> list[RecipientState]:
    now = utc_now()
    recipients = []
    for index, given in enumerate(request.recipients):
        phone = normalize_korean_mobile(given.phone)
        state = RecipientState(rid=recipient_id(index), phone=phone or given.phone, name=given.name, updated_at=now)
        if phone is None:
            # Invalid numbers are settled at once and never reach the provider or the balance.
            state = state.model_copy(update={"status": "FAILED", "reason": "INVALID_RECIPIENT"})
        recipients.append(state)
    return recipients


def _checked(store: SendStore, account_id: str, request: GiftSendRequest, now: datetime) -> tuple[GiftItem, Balance]:
    """The account may send gifts, the promotion exists, the gift is on sale, send_at is allowed."""
    context = store.send_context(account_id, request.promotion_id, request.gift_id)
    account = require(context.account, "account")
    if not account.gift_sending_approved:
        raise GiftSendingNotApproved("gift sending is not approved for this account")
    require(context.promotion, "promotion")
    gift = require(context.gift, "gift")
    if gift.status != "ON_SALE":
        raise GiftUnavailable(f"gift {gift.gift_id} is discontinued")
    check_send_at(request.send_at, now)
    return gift, require(context.balance, "account")


def estimate_gift_send(store: SendStore, account_id: str, request: GiftSendRequest) -> GiftSendEstimate:
    """What the send would cost now (dry_run): nothing is stored."""
    gift, balance = _checked(store, account_id, request, utc_now())
    recipients = _normalized_recipients(request)
    invalid = sum(1 for r in recipients if r.status == "FAILED")
    valid = len(recipients) - invalid
    estimated = valid * gift.price
    return GiftSendEstimate(
        total=len(recipients),
        valid=valid,
        invalid=invalid,
        unit_price=gift.price,
        estimated_credits=estimated,
        available_credits=balance.credits,
        shortfall=max(0, estimated - balance.credits),
    )


def create_gift_send(
    store: SendStore,
    queue: JobQueue,
    account_id: str,
    request: GiftSendRequest,
    batch_size: int,
    idempotency_key: str | None = None,
) -> SendAccepted:
    """Validate against the account, promotion and catalog; then store the send and queue its batches."""
    now = utc_now()
    gift, _ = _checked(store, account_id, request, now)
    return accept_send(
        store,
        queue,
        account_id=account_id,
        kind=GIFT,
        idempotency_key=idempotency_key,
        recipients=_normalized_recipients(request),
        batch_size=batch_size,
        now=now,
        describe={**requested_send_fields(request), "gift_id": gift.gift_id},
    )


def get_gift_send(store: SendStore, account_id: str, send_id: str) -> GiftSendView:
    return gift_send_view(require(store.get_send(account_id, GIFT, send_id), "gift send"))


def list_gift_sends(
    store: SendStore, account_id: str, promotion_id: str | None, limit: int, cursor: str | None
) -> Page[GiftSendView]:
    return list_send_views(store, account_id, GIFT, promotion_id, limit, cursor, gift_send_view)


def list_gift_recipients(
    store: SendStore, account_id: str, send_id: str, status: RecipientStatus | None, limit: int, cursor: str | None
) -> Page[GiftRecipientView]:
    send = require(store.get_send(account_id, GIFT, send_id), "gift send")
    found, next_cursor = recipients_page(store, send, status, limit, cursor)
    return Page[GiftRecipientView](items=[gift_recipient_view(r) for r in found], next_cursor=next_cursor)
