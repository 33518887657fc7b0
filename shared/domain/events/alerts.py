"""Low-balance alerts: thresholds per account, one BalanceLow event per downward crossing.

The event is written to an outbox in the same transaction as the debit that caused it, then published;
if the publisher dies in between, the periodic dispatcher publishes what is left (at least once, with a
stable `event_id` in the detail for consumers that deduplicate)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from shared.domain.balances import low_balance_crossings
from shared.domain.clock import utc_now
from shared.domain.store import OutboxStore
from shared.ids import new_id
from shared.models.items import AlertSettings, Balance, OutboxEvent

logger = logging.getLogger(__name__)
BALANCE_LOW = "BalanceLow"
OUTBOX_GRACE = timedelta(minutes=1)


class Publisher(Protocol):
    def publish(self, events: Sequence[OutboxEvent]) -> None: ...


def balance_low_events(before: Balance, after: Balance, alerts: AlertSettings | None) -> tuple[OutboxEvent, ...]:
    now = utc_now()
    events = []
    for detail in low_balance_crossings(before, after, alerts):
        event_id = new_id("evt")
        events.append(
            OutboxEvent(
                event_id=event_id,
                account_id=after.account_id,
                detail_type=BALANCE_LOW,
                detail={**detail, "event_id": event_id},
                created_at=now,
            )
        )
    return tuple(events)


def publish_committed(store: OutboxStore, publisher: Publisher | None, events: Sequence[OutboxEvent]) -> None:
    """After the transaction committed: publish, then clear the outbox. A failure leaves them for the
    dispatcher; the money change itself is already durable."""
    if not events or publisher is None:
        return
    try:
        publisher.publish(events)
        store.delete_outbox(events)
    except Exception:
        logger.exception("publishing events failed; the dispatcher will retry")


def publish_stale_outbox(store: OutboxStore, publisher: Publisher, now: datetime) -> int:
    events = store.stale_outbox(now - OUTBOX_GRACE)
    if events:
        publisher.publish(events)
        store.delete_outbox(events)
    return len(events)
