"""Getting account events to webhooks, at least once (contract v1.1, "Webhooks").

Fan-out: each event taken off the bus becomes one delivery per webhook of that account that asked for its type,
written with a put that keeps an existing delivery (its id comes from the event and the webhook, so an event
published twice makes no second delivery), then queued. An account's events are only ever matched against that
account's webhooks.

Delivery: one attempt is claimed with a conditional write (attempts + 1, the next attempt moved to the end of a
lease), then posted, then recorded. A Lambda dying anywhere leaves the delivery PENDING and due at the latest when
its lease ends; the periodic sweep queues every due delivery again, so it is tried again with the same webhook-id.
Any answer but 2xx is retried after growing, jittered delays (RetrySchedule); a replay starts the schedule anew.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel

from shared.domain.clock import to_rfc3339, utc_now
from shared.domain.events.account_events import CompletionStore, PublishedEvents, announce_if_completed
from shared.domain.events.alerts import Publisher
from shared.domain.webhooks.webhooks import DeliveryQueue, SecretCipher, secret_context
from shared.models.common import DeliveryStatus
from shared.models.items import AccountEvent, WebhookDeliveryItem, WebhookItem

logger = logging.getLogger(__name__)

# After the n-th failed attempt of a schedule, wait about PRODUCTION_DELAYS[n - 1] seconds: 8 attempts over
# at least 26 h (33 h without jitter).
PRODUCTION_DELAYS: tuple[float, ...] = (30, 300, 1800, 7200, 21600, 43200, 43200)
# An attempt in progress holds the delivery this long; after it a dead Lambda's attempt is made again.
ATTEMPT_LEASE = timedelta(seconds=60)
# A queued job may arrive a little before its delivery is due (SQS delays are whole seconds).
EARLY_TOLERANCE = timedelta(seconds=2)
MAX_QUEUE_DELAY_SECONDS = 900  # SQS's limit: longer waits are left to the periodic sweep


def _no_checkpoint(step: str) -> None:
    return None


@dataclass(frozen=True)
class RetrySchedule:
    delays_seconds: tuple[float, ...] = PRODUCTION_DELAYS
    jitter: float = 0.2  # each delay is drawn from +-20% around its value

    def delay_after(self, failed_attempts: int, draw: Callable[[], float] = random.random) -> timedelta | None:
        """The wait after the `failed_attempts`-th failure of this schedule; None when no attempt is left."""
        if failed_attempts > len(self.delays_seconds):
            return None
        base = self.delays_seconds[failed_attempts - 1]
        return timedelta(seconds=base * (1 - self.jitter + 2 * self.jitter * draw()))

    @property
    def attempts(self) -> int:
        return len(self.delays_seconds) + 1


class DeliveryJob(BaseModel):
    """The delivery queue's message: which delivery to attempt."""

    account_id: str
    webhook_id: str
    delivery_id: str


class PostOutcome(Protocol):
    @property
    def status_code(self) -> int | None: ...
    @property
    def error(self) -> str | None: ...
    @property
    def succeeded(self) -> bool: ...


class Poster(Protocol):
    def post(self, url: str, secret: str, message_id: str, body: str, now: datetime) -> PostOutcome: ...


class DueDeliveries(Protocol):
    def due_deliveries(self, now: datetime, limit: int = ...) -> list[WebhookDeliveryItem]: ...


class DeliveryStore(CompletionStore, DueDeliveries, Protocol):
    def list_webhooks(self, account_id: str) -> list[WebhookItem]: ...

    def get_webhook(self, account_id: str, webhook_id: str) -> WebhookItem | None: ...

    def add_deliveries(self, deliveries: Sequence[WebhookDeliveryItem]) -> list[WebhookDeliveryItem]:
        """Writes the deliveries that do not exist yet; returns those it wrote."""
        ...

    def get_delivery(self, account_id: str, webhook_id: str, delivery_id: str) -> WebhookDeliveryItem | None: ...

    def claim_attempt(self, delivery: WebhookDeliveryItem, lease_until: datetime) -> WebhookDeliveryItem | None:
        """Attempt + 1 while the delivery is still as read (else None: someone else has it)."""
        ...

    def finish_attempt(
        self,
        delivery: WebhookDeliveryItem,
        status: DeliveryStatus,
        status_code: int | None,
        error: str | None,
        next_attempt_at: datetime | None,
    ) -> bool:
        """Record the claimed attempt's outcome, unless another attempt was claimed since."""
        ...


class DeliveryResult(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    RETRY_SCHEDULED = "RETRY_SCHEDULED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"  # not pending, not due, or taken by another consumer


def delivery_id_for(event: AccountEvent, webhook_id: str) -> str:
    """Stable for (event, webhook), ordered by the event's time."""
    digest = hashlib.sha256(f"{event.event_id}:{webhook_id}".encode()).hexdigest()[:16]
    return f"dlv_{event.occurred_at.strftime('%Y%m%d%H%M%S%f')}{digest}"


def event_body(event: AccountEvent) -> str:
    return json.dumps(
        {"type": event.type, "timestamp": to_rfc3339(event.occurred_at), "data": event.data},
        ensure_ascii=False,
        separators=(",", ":"),
    )


def fan_out(store: DeliveryStore, queue: DeliveryQueue, published: PublishedEvents, now: datetime) -> int:
    """One delivery per event and webhook of the event's account that asked for its type; returns how many new."""
    webhooks = [w for w in store.list_webhooks(published.account_id) if w.enabled]
    deliveries = [
        WebhookDeliveryItem(
            delivery_id=delivery_id_for(event, webhook.webhook_id),
            account_id=published.account_id,
            webhook_id=webhook.webhook_id,
            event_id=event.event_id,
            type=event.type,
            body=event_body(event),
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        for event in published.events
        for webhook in webhooks
        if event.type in webhook.events and webhook.account_id == published.account_id
    ]
    added = store.add_deliveries(deliveries) if deliveries else []
    if added:
        queue.enqueue_deliveries(added)
    return len(added)


def take_published(
    store: DeliveryStore, queue: DeliveryQueue, publisher: Publisher | None, published: PublishedEvents
) -> int:
    """What the events consumer does with one event from the bus: fan it out, then check the send's completion."""
    added = fan_out(store, queue, published, utc_now())
    if published.completion_check is not None:
        announce_if_completed(store, publisher, published.completion_check)
    return added


def deliver(
    store: DeliveryStore,
    cipher: SecretCipher,
    poster: Poster,
    queue: DeliveryQueue,
    job: DeliveryJob,
    schedule: RetrySchedule,
    checkpoint: Callable[[str], None] = _no_checkpoint,
) -> DeliveryResult:
    """One attempt of one delivery, if it is due and nobody else is making it."""
    delivery = store.get_delivery(job.account_id, job.webhook_id, job.delivery_id)
    now = utc_now()
    if delivery is None or delivery.status != "PENDING":
        return DeliveryResult.SKIPPED
    if delivery.next_attempt_at is not None and delivery.next_attempt_at > now + EARLY_TOLERANCE:
        return DeliveryResult.SKIPPED  # a duplicate job, or one for an attempt in progress; the sweep has it
    webhook = store.get_webhook(delivery.account_id, delivery.webhook_id)
    claimed = store.claim_attempt(delivery, now + ATTEMPT_LEASE)
    if claimed is None:
        return DeliveryResult.SKIPPED
    checkpoint("claimed")
    if webhook is None or not webhook.enabled:
        store.finish_attempt(claimed, "FAILED", None, "webhook deleted", None)
        return DeliveryResult.FAILED
    secret = cipher.decrypt(webhook.secret_ciphertext, secret_context(webhook))
    outcome = poster.post(webhook.url, secret, delivery.event_id, delivery.body, now)
    checkpoint("posted")
    if outcome.succeeded:
        store.finish_attempt(claimed, "SUCCEEDED", outcome.status_code, None, None)
        return DeliveryResult.SUCCEEDED
    delay = schedule.delay_after(claimed.attempts - claimed.schedule_from)
    if delay is None:
        store.finish_attempt(claimed, "FAILED", outcome.status_code, outcome.error, None)
        return DeliveryResult.FAILED
    if store.finish_attempt(claimed, "PENDING", outcome.status_code, outcome.error, now + delay):
        seconds = math.ceil(delay.total_seconds())
        if seconds <= MAX_QUEUE_DELAY_SECONDS:
            queue.enqueue_deliveries([claimed], delay_seconds=seconds)
    logger.info(
        "webhook attempt failed",
        extra={"delivery_id": delivery.delivery_id, "status_code": outcome.status_code, "error": outcome.error},
    )
    return DeliveryResult.RETRY_SCHEDULED


def requeue_due_deliveries(store: DueDeliveries, queue: DeliveryQueue, now: datetime) -> int:
    """The periodic sweep: every pending delivery whose time has come goes on the queue again (a duplicate job is
    harmless: only one consumer can claim an attempt)."""
    due = store.due_deliveries(now)
    if due:
        queue.enqueue_deliveries(due)
    return len(due)
