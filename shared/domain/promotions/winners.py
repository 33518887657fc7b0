"""Promotion winners and their automatic notification.

Recording winners stores them and announces a `WinnersRecorded` event (through the outbox, so a crash
between the two cannot lose it); an EventBridge rule runs `notify_winners`, which makes one notification
send with origin AUTO per draw. The draw id is the send's idempotency key, so a repeated event makes no
second send."""

from __future__ import annotations

from pydantic import NonNegativeInt, TypeAdapter

from shared.cursor import decode_cursor, encode_cursor
from shared.domain.clock import utc_now
from shared.domain.events.alerts import Publisher, publish_committed
from shared.domain.jobs import JobQueue
from shared.domain.notifications.messages import check_messages
from shared.domain.notifications.notification_sends import create_notification_send
from shared.domain.promotions.promotions import promotion_view
from shared.domain.recipients import e164_or_given
from shared.domain.store import WinnerStore, require
from shared.ids import new_id
from shared.models.api import (
    AutoNotificationRequest,
    NotificationRecipientInput,
    NotificationSendRequest,
    PromotionView,
    RecordWinnersRequest,
    SendAccepted,
    WinnersAccepted,
    WinnerView,
)
from shared.models.common import Page
from shared.models.items import AutoNotification, OutboxEvent, WinnerChunk, WinnerState

WINNERS_RECORDED = "WinnersRecorded"
WINNERS_PER_CHUNK = 50


def set_auto_notification(
    store: WinnerStore, account_id: str, promotion_id: str, request: AutoNotificationRequest
) -> PromotionView:
    """The message is checked as a notification send's would be (with no name filled in)."""
    check_messages(request.channel, request.title, request.content, [None]).raise_if_invalid()
    store.set_auto_notification(account_id, promotion_id, AutoNotification(**request.model_dump()))
    return promotion_view(require(store.get_promotion(account_id, promotion_id), "promotion"))


def record_winners(
    store: WinnerStore, publisher: Publisher | None, account_id: str, promotion_id: str, request: RecordWinnersRequest
) -> WinnersAccepted:
    require(store.get_promotion(account_id, promotion_id), "promotion")
    now = utc_now()
    draw_id = new_id("drw")
    winners = [
        WinnerState(wid=f"{draw_id}.{i:05d}", name=w.name, phone=_as_e164(w.phone), email=w.email)
        for i, w in enumerate(request.winners)
    ]
    chunks = [
        WinnerChunk(
            account_id=account_id,
            promotion_id=promotion_id,
            draw_id=draw_id,
            chunk_no=n,
            recorded_at=now,
            winners=winners[start : start + WINNERS_PER_CHUNK],
        )
        for n, start in enumerate(range(0, len(winners), WINNERS_PER_CHUNK))
    ]
    event_id = new_id("evt")
    event = OutboxEvent(
        event_id=event_id,
        account_id=account_id,
        detail_type=WINNERS_RECORDED,
        created_at=now,
        detail={
            "account_id": account_id,
            "promotion_id": promotion_id,
            "draw_id": draw_id,
            "winners": len(winners),
            "event_id": event_id,
        },
    )
    store.record_draw(chunks, event)
    publish_committed(store, publisher, [event])
    return WinnersAccepted(accepted=len(winners))


def notify_winners(
    store: WinnerStore, queue: JobQueue, account_id: str, promotion_id: str, draw_id: str, batch_size: int
) -> SendAccepted | None:
    """The automatic notification for one draw, if the promotion has it enabled (else None)."""
    promotion = store.get_promotion(account_id, promotion_id)
    auto = promotion.auto_notification if promotion else None
    if not auto or not auto.enabled:
        return None
    recipients = [
        NotificationRecipientInput.model_construct(phone=w.phone, email=w.email, name=w.name)
        for _, chunk in store.winner_chunks(account_id, promotion_id, draw_id=draw_id, limit=10_000)
        for w in chunk.winners
    ]
    if not recipients:
        return None
    request = NotificationSendRequest.model_construct(
        promotion_id=promotion_id,
        channel=auto.channel,
        title=auto.title,
        content=auto.content,
        recipients=recipients,
        send_at=None,
        draft=False,
        dry_run=False,
    )
    return create_notification_send(
        store, queue, account_id, request, batch_size, idempotency_key=draw_id, origin="AUTO"
    )


_POSITION = TypeAdapter(tuple[str, NonNegativeInt])  # (chunk position, offset in the chunk)


def _as_e164(phone: str | None) -> str | None:
    # Stored in E.164 since v1.1; winners recorded before are shown so too.
    return e164_or_given(phone) if phone else phone


def _encode(sk: str, offset: int) -> str:
    return encode_cursor([sk, offset])


def _decode(cursor: str | None) -> tuple[str | None, int]:
    return decode_cursor(cursor, _POSITION) if cursor else (None, 0)


def list_winners(
    store: WinnerStore, account_id: str, promotion_id: str, limit: int, cursor: str | None
) -> Page[WinnerView]:
    """Winners in the order they were recorded (draw by draw), paged by position."""
    require(store.get_promotion(account_id, promotion_id), "promotion")
    from_sk, offset = _decode(cursor)
    items: list[WinnerView] = []
    chunks = store.winner_chunks(account_id, promotion_id, from_sk=from_sk or "", limit=limit)
    for sk, chunk in chunks:
        for position in range(offset, len(chunk.winners)):
            if len(items) == limit:
                return Page[WinnerView](items=items, next_cursor=_encode(sk, position))
            w = chunk.winners[position]
            items.append(
                WinnerView(
                    winner_id=w.wid, name=w.name, phone=_as_e164(w.phone), email=w.email, recorded_at=chunk.recorded_at
                )
            )
        offset = 0
    if len(chunks) == limit:  # every chunk holds at least one winner: there may be more after the last
        last_sk, last = chunks[-1]
        return Page[WinnerView](items=items, next_cursor=_encode(last_sk, len(last.winners)))
    return Page[WinnerView](items=items, next_cursor=None)
