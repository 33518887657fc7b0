"""The periodic dispatcher: starts scheduled sends when due, and finishes enqueuing any immediate send
whose API call died after storing it (the store-then-enqueue gap), or closing any cancelled send whose cancel
died half-way, so no recipient waits forever. It also publishes events left in the outbox and queues webhook
deliveries that are due (a retry's time has come, or an attempt's Lambda died)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Protocol

from shared.domain.events.alerts import Publisher, publish_stale_outbox
from shared.domain.jobs import JobQueue
from shared.domain.sends.send_actions import close_cancelled
from shared.domain.sends.sends import enqueue_batches
from shared.domain.store import DueSends, OutboxStore, SendStore
from shared.domain.webhooks.webhook_delivery import DueDeliveries, requeue_due_deliveries
from shared.domain.webhooks.webhooks import DeliveryQueue
from shared.models.common import SendKind


class DispatchStore(SendStore, OutboxStore, DueDeliveries, Protocol): ...


def run_periodic_dispatch(
    store: DispatchStore,
    index: DueSends,
    queues: Mapping[SendKind, JobQueue],
    publisher: Publisher,
    deliveries: DeliveryQueue,
    now: datetime,
) -> dict[str, int]:
    return {
        "dispatched": dispatch_due_sends(store, index, queues, now, publisher),
        "events_published": publish_stale_outbox(store, publisher, now),
        "webhook_deliveries_queued": requeue_due_deliveries(store, deliveries, now),
    }


def dispatch_due_sends(
    store: SendStore,
    index: DueSends,
    queues: Mapping[SendKind, JobQueue],
    now: datetime,
    publisher: Publisher | None = None,
) -> int:
    """Enqueue every due send's batches; returns how many sends were dispatched. Re-enqueuing a batch
    that already ran is harmless: the consumer finds nothing pending in it."""
    dispatched = 0
    for send in index.due(now):
        if send.status == "CANCELLED":
            close_cancelled(store, send, publisher)  # a cancel that died before closing every batch
            continue
        if send.status == "SCHEDULED" and not store.change_send_status(send, ("SCHEDULED",), "QUEUED", send.send_at):
            continue  # cancelled (or started by a concurrent run) in the meantime
        if send.status in ("SCHEDULED", "QUEUED"):
            enqueue_batches(queues[send.kind], send, range(send.batch_count))
            dispatched += 1
        store.mark_dispatched(send.account_id, send.kind, send.send_id)
    return dispatched
