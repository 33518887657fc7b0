"""Account events: what an account's webhooks are told (contract v1.1, "Webhooks").

An event is made by the code that changes the state and written with the change, in the same transaction, to the
outbox (like BalanceLow): there is no event for a change that did not commit, and none is lost when a Lambda dies
after the commit, since the periodic dispatcher publishes whatever is left in the outbox. A batch's recipient events
travel as a few outbox items of ACCOUNT_EVENTS, each with up to EVENTS_PER_OUTBOX_ITEM events, so they fit one
EventBridge entry and one SQS message.

A send's completion depends on all its batches, which no batch's write can see. So an outbox item of recipient events
also asks for a completion check: whoever takes the events off the bus reads the send (after the write that made the
events, so the counters include it) and announces send.completed with a conditional write that succeeds once per
completion (a send completes again after a resend, and is announced again).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from shared.domain.clock import utc_now
from shared.domain.events.alerts import BALANCE_LOW, Publisher, publish_committed
from shared.domain.store import OutboxStore
from shared.domain.views import effective_status, recipient_view, send_view
from shared.ids import new_id
from shared.models.common import SendKind, WebhookEventType
from shared.models.items import AccountEvent, BatchItem, OutboxEvent, RecipientState, SendItem

ACCOUNT_EVENTS = "AccountEvents"
EVENTS_PER_OUTBOX_ITEM = 50


@dataclass(frozen=True)
class SendRef:
    account_id: str
    kind: SendKind
    send_id: str


@dataclass(frozen=True)
class PublishedEvents:
    """What one outbox item published on the bus carries: its events and the send whose completion to check."""

    account_id: str
    events: list[AccountEvent]
    completion_check: SendRef | None = None


def kind_name(kind: SendKind) -> str:
    return "gift" if kind == SendKind.GIFT else "notification"


def _recipient_change(before: RecipientState, after: RecipientState) -> WebhookEventType | None:
    if after.status == "SENT" and before.status != "SENT":
        return "recipient.sent"
    if after.status == "FAILED" and before.status != "FAILED":
        return "recipient.failed"
    if after.status == "SENT" and after.delivered_at is not None and before.delivered_at is None:
        return "recipient.delivered"
    return None


def recipient_events(batch: BatchItem, recipients: Sequence[RecipientState], now: datetime) -> list[AccountEvent]:
    """An event per recipient this write makes SENT, FAILED or delivered."""
    before = {r.rid: r for r in batch.recipients}
    events = []
    for recipient in recipients:
        earlier = before.get(recipient.rid)
        change = _recipient_change(earlier, recipient) if earlier is not None else None
        if change is None:
            continue
        data = {
            **recipient_view(batch.kind, recipient).model_dump(mode="json"),
            "send_id": batch.send_id,
            "kind": kind_name(batch.kind),
        }
        events.append(AccountEvent(event_id=new_id("evt"), type=change, occurred_at=now, data=data))
    return events


def send_completed_event(send: SendItem, now: datetime) -> AccountEvent:
    data = {**send_view(send).model_dump(mode="json"), "kind": kind_name(send.kind)}
    return AccountEvent(event_id=new_id("evt"), type="send.completed", occurred_at=now, data=data)


def outbox_items(
    account_id: str, events: Sequence[AccountEvent], completion_check: SendRef | None = None
) -> tuple[OutboxEvent, ...]:
    """The outbox items carrying `events`; the completion check rides on the last one."""
    chunks = [events[i : i + EVENTS_PER_OUTBOX_ITEM] for i in range(0, len(events), EVENTS_PER_OUTBOX_ITEM)]
    now = utc_now()
    items = []
    for n, chunk in enumerate(chunks):
        check = completion_check if n == len(chunks) - 1 else None
        detail: dict[str, Any] = {
            "account_id": account_id,
            "events": [e.model_dump(mode="json") for e in chunk],
            "completion_check": None if check is None else {"kind": check.kind.value, "send_id": check.send_id},
        }
        items.append(
            OutboxEvent(
                event_id=new_id("obx"), account_id=account_id, detail_type=ACCOUNT_EVENTS, detail=detail, created_at=now
            )
        )
    return tuple(items)


def settlement_events(batch: BatchItem, recipients: Sequence[RecipientState], now: datetime) -> tuple[OutboxEvent, ...]:
    """The outbox items of a batch write: its recipient events, asking for the send's completion check."""
    events = recipient_events(batch, recipients, now)
    if not events:
        return ()
    return outbox_items(batch.account_id, events, SendRef(batch.account_id, batch.kind, batch.send_id))


def published_events(detail_type: str, detail: dict[str, Any], published_at: datetime) -> PublishedEvents | None:
    """The account events in one event from the bus (None for an event that is not an account's)."""
    if detail_type == BALANCE_LOW:
        event = AccountEvent(
            event_id=str(detail["event_id"]), type="balance.low", occurred_at=published_at, data=dict(detail)
        )
        return PublishedEvents(account_id=str(detail["account_id"]), events=[event])
    if detail_type != ACCOUNT_EVENTS:
        return None
    account_id = str(detail["account_id"])
    check = detail.get("completion_check")
    return PublishedEvents(
        account_id=account_id,
        events=[AccountEvent.model_validate(e) for e in detail.get("events", [])],
        completion_check=SendRef(account_id, SendKind(check["kind"]), str(check["send_id"])) if check else None,
    )


class CompletionStore(OutboxStore, Protocol):
    def get_send(self, account_id: str, kind: SendKind, send_id: str) -> SendItem | None: ...

    def announce_completion(self, send: SendItem, events: Sequence[OutboxEvent]) -> bool:
        """Record that `send` (as read) was announced complete, with the events; False when it changed since, or
        this completion was announced already."""
        ...


def announce_if_completed(store: CompletionStore, publisher: Publisher | None, ref: SendRef) -> bool:
    """send.completed, once per completion of the send: True when this call announced it."""
    send = store.get_send(ref.account_id, ref.kind, ref.send_id)
    if send is None or effective_status(send) != "COMPLETED" or send.announced_processed == send.processed:
        return False
    events = outbox_items(send.account_id, [send_completed_event(send, utc_now())])
    if not store.announce_completion(send, events):
        return False
    publish_committed(store, publisher, events)
    return True
