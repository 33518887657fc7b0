"""What gift and notification sends share: recipients split into batches, the durable write, dispatch to
the work queue, the derived status and the recipients listing."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, NonNegativeInt, TypeAdapter

from shared.cursor import decode_cursor, encode_cursor
from shared.domain.clock import utc_now
from shared.domain.events.account_events import outbox_items, send_completed_event, settlement_events
from shared.domain.jobs import BatchJob, JobQueue
from shared.domain.store import SendSettlement, SendStore
from shared.domain.views import effective_status
from shared.errors import InvalidInput
from shared.ids import new_id
from shared.models.api import SendAccepted
from shared.models.common import Page, RecipientStatus, SendKind, SendStatus
from shared.models.items import BatchItem, OutboxEvent, RecipientState, SendCounts, SendItem

logger = logging.getLogger(__name__)

MAX_SCHEDULE_AHEAD = timedelta(days=90)
# An immediate send is re-dispatched by the periodic job only if the API did not finish enqueuing it.
DISPATCH_GRACE = timedelta(minutes=2)
IDEMPOTENCY_WINDOW = timedelta(hours=25)


def recipient_id(index: int) -> str:
    return f"r{index:05d}"


def batch_no_of(recipient: str, batch_size: int) -> int | None:
    if len(recipient) != 6 or not recipient.startswith("r") or not recipient[1:].isdigit():
        return None
    return int(recipient[1:]) // batch_size


def split_into_batches(
    kind: SendKind, send_id: str, account_id: str, recipients: Sequence[RecipientState], batch_size: int
) -> list[BatchItem]:
    return [
        BatchItem(
            send_id=send_id,
            account_id=account_id,
            kind=kind,
            batch_no=n,
            recipients=list(recipients[start : start + batch_size]),
        )
        for n, start in enumerate(range(0, len(recipients), batch_size))
    ]


def check_send_at(send_at: datetime | None, now: datetime) -> None:
    if send_at is None:
        return
    if send_at <= now:
        raise InvalidInput("send_at must be in the future", [{"loc": ["body", "send_at"], "msg": "in the past"}])
    if send_at > now + MAX_SCHEDULE_AHEAD:
        raise InvalidInput(
            "send_at must be within 90 days", [{"loc": ["body", "send_at"], "msg": "more than 90 days ahead"}]
        )


def send_id_for(store: SendStore, account_id: str, kind: SendKind, idempotency_key: str | None, now: datetime) -> str:
    """A new send id, or with an Idempotency-Key the one an earlier (possibly crashed) attempt claimed."""
    send_id = new_id(f"{kind[0].lower()}snd")
    if not idempotency_key:
        return send_id
    expires_at = int((now + IDEMPOTENCY_WINDOW).timestamp())
    return store.claim_send_id(account_id, kind, idempotency_key, send_id, expires_at)


def accept_send(
    store: SendStore,
    queue: JobQueue,
    *,
    account_id: str,
    kind: SendKind,
    idempotency_key: str | None,
    recipients: Sequence[RecipientState],
    batch_size: int,
    now: datetime,
    describe: dict[str, Any],
) -> SendAccepted:
    """Store a new send of `kind` with its recipients and queue it when due. `describe` holds the send's own
    fields (promotion_id, title, content, status, send_at, ...). With an Idempotency-Key a retry after a
    crashed attempt answers with the send that attempt stored instead of making another."""
    invalid = sum(1 for r in recipients if r.status == "FAILED")
    send_id = send_id_for(store, account_id, kind, idempotency_key, now)
    earlier = store.get_send(account_id, kind, send_id) if idempotency_key else None
    if earlier is not None:  # an earlier attempt stored it and died before answering
        return SendAccepted(
            send_id=send_id, status=effective_status(earlier), total=earlier.counts.total, invalid=invalid
        )
    batches = split_into_batches(kind, send_id, account_id, recipients, batch_size)
    send = SendItem.model_validate(
        {
            **describe,
            "send_id": send_id,
            "account_id": account_id,
            "kind": kind,
            "created_at": now,
            "batch_size": batch_size,
            "batch_count": len(batches),
            "counts": SendCounts(total=len(recipients), pending=len(recipients) - invalid, failed=invalid),
        }
    )
    store_and_dispatch(store, queue, send, batches, now)
    return SendAccepted(send_id=send_id, status=effective_status(send), total=len(recipients), invalid=invalid)


def initial_status(send_at: datetime | None, draft: bool) -> SendStatus:
    if draft:
        return "DRAFT"
    return "SCHEDULED" if send_at else "QUEUED"


class SendRequestFields(Protocol):
    """What a gift and a notification send request both carry."""

    @property
    def promotion_id(self) -> str: ...
    @property
    def title(self) -> str | None: ...
    @property
    def content(self) -> str: ...
    @property
    def send_at(self) -> datetime | None: ...
    @property
    def draft(self) -> bool: ...


def requested_send_fields(request: SendRequestFields) -> dict[str, Any]:
    """The stored send's fields that come straight from either kind of request."""
    return {
        "promotion_id": request.promotion_id,
        "title": request.title,
        "content": request.content,
        "status": initial_status(request.send_at, request.draft),
        "send_at": request.send_at,
    }


def store_and_dispatch(
    store: SendStore, queue: JobQueue, send: SendItem, batches: Sequence[BatchItem], now: datetime
) -> None:
    """Durably store the send, then enqueue its work when it is due now. A crash before the enqueue
    finishes leaves the send in the dispatch index, where the periodic dispatcher finds it."""
    queued = send.status == "QUEUED"
    due_later = send.send_at if send.status == "SCHEDULED" else now + DISPATCH_GRACE
    events: tuple[OutboxEvent, ...] = ()
    if queued and send.counts.pending == 0 and store.has_webhooks(send.account_id):  # all refused: complete now
        send = send.model_copy(update={"announced_processed": send.processed})
        events = outbox_items(send.account_id, [send_completed_event(send, now)])
    store.create_send(
        send, batches, dispatch_at=due_later if send.status in ("QUEUED", "SCHEDULED") else None, events=events
    )
    if queued:
        try:
            enqueue_batches(queue, send, (b.batch_no for b in batches if has_pending(b.recipients)))
        except Exception:
            # The send is durable and accepted; the dispatcher enqueues it after DISPATCH_GRACE.
            logger.exception("enqueue failed; the dispatcher will retry", extra={"send_id": send.send_id})
            return
        store.mark_dispatched(send.account_id, send.kind, send.send_id)


def enqueue_batches(queue: JobQueue, send: SendItem, batch_numbers: Iterable[int]) -> int:
    jobs = [
        BatchJob(kind=send.kind, account_id=send.account_id, send_id=send.send_id, batch_no=n, gift_id=send.gift_id)
        for n in batch_numbers
    ]
    return queue.enqueue(jobs) if jobs else 0


def has_pending(recipients: Iterable[RecipientState]) -> bool:
    return any(r.status == "PENDING" for r in recipients)


def settlement(
    batch: BatchItem, recipients: list[RecipientState], delta: SendCounts, settled: int = 0, *, with_events: bool
) -> SendSettlement:
    """The batch's new recipients with the send's counter changes, counting the provider errors that wait for
    an automatic retry too; the earliest of those is when the retry job looks at the batch again. The account
    events of the change go with it `with_events`: when the account has a webhook to tell (events are written
    only to be delivered, and cost a write of their own)."""
    waiting = [r.retry_at for r in recipients if r.retry_at is not None]
    retrying = len(waiting) - sum(1 for r in batch.recipients if r.retry_at is not None)
    return SendSettlement(
        recipients,
        delta.model_copy(update={"retrying": retrying}),
        settled,
        min(waiting, default=None),
        settlement_events(batch, recipients, utc_now()) if with_events else (),
    )


def automatic_retry_at(round_no: int, rounds: int, base_seconds: float, now: datetime) -> datetime | None:
    """When a provider error of resend round `round_no` (0 for the first attempt) is retried by the retry job:
    after base * 2**round, while rounds are left; None once none is."""
    return now + timedelta(seconds=base_seconds * 2**round_no) if round_no < rounds else None


ViewT = TypeVar("ViewT", bound=BaseModel)


def list_send_views(
    store: SendStore,
    account_id: str,
    kind: SendKind,
    promotion_id: str | None,
    limit: int,
    cursor: str | None,
    view: Callable[[SendItem], ViewT],
) -> Page[ViewT]:
    """One page of an account's sends of `kind` (of one promotion if given), newest first, as `view` shows them."""
    page = store.list_sends(account_id, kind, promotion_id, limit, cursor)
    return Page[ViewT](items=[view(s) for s in page.items], next_cursor=page.next_cursor)


# --- recipients listing ------------------------------------------------------------------------


_POSITION = TypeAdapter(tuple[NonNegativeInt, NonNegativeInt])  # (batch number, offset in the batch)


def recipients_page(
    store: SendStore, send: SendItem, status: RecipientStatus | None, limit: int, cursor: str | None
) -> tuple[list[RecipientState], str | None]:
    """Recipients in the order they were given, optionally filtered by status, paged by position."""
    batch_no, offset = decode_cursor(cursor, _POSITION) if cursor else (0, 0)
    found: list[RecipientState] = []
    batches_per_read = max(2, limit // send.batch_size + 2)
    while batch_no < send.batch_count:
        batches = store.batches_from(send.send_id, batch_no, batches_per_read)
        if not batches:
            break
        for batch in batches:
            for position in range(offset, len(batch.recipients)):
                recipient = batch.recipients[position]
                if status is None or recipient.status == status:
                    if len(found) == limit:
                        return found, encode_cursor([batch.batch_no, position])
                    found.append(recipient)
            offset = 0
            batch_no = batch.batch_no + 1
    return found, None
