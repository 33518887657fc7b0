"""What a sender does to an existing send: resend failures, submit a draft, cancel before it starts; and
the retry job that resends provider errors on its own.

A resend puts resendable failures back to PENDING in a new round (so the provider sees a fresh idempotency
key) with one conditional write per batch, then queues those batches on the normal background path: they
are charged at the then-current price and balance. Two resends racing for the same failures cannot both
flip them: the batch's version lets exactly one win, the other finds nothing left to resend."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from shared.domain.balances import retry_on_conflict
from shared.domain.clock import utc_now
from shared.domain.events.alerts import Publisher, publish_committed
from shared.domain.jobs import JobQueue
from shared.domain.sends.sends import DISPATCH_GRACE, batch_no_of, enqueue_batches, settlement
from shared.domain.store import SendStore, require
from shared.errors import InvalidState, NotResendable
from shared.models.common import RESENDABLE_REASONS, Channel, SendKind, StoredSendStatus
from shared.models.items import BatchItem, RecipientState, SendCounts, SendItem

Selects = Callable[[RecipientState], bool]


def _resend_batch(store: SendStore, send: SendItem, batch_no: int, selects: Selects, now: datetime) -> int:
    def attempt() -> int:
        batch = store.get_batch(send.send_id, batch_no)
        if batch is None or batch.reservation is not None:
            return 0  # a batch being processed has no settled failures to resend yet
        chosen = {
            r.rid
            for r in batch.recipients
            if r.status == "FAILED" and r.resendable and r.reason in RESENDABLE_REASONS and selects(r)
        }
        if not chosen:
            return 0
        recipients = [
            r.model_copy(
                update={
                    "status": "PENDING",
                    "reason": None,
                    "resendable": False,
                    "round": r.round + 1,
                    # Should this job never be queued (a Lambda dying right after this write), the retry job
                    # finds the batch here and queues it.
                    "retry_at": now + DISPATCH_GRACE,
                    "updated_at": now,
                }
            )
            if r.rid in chosen
            else r
            for r in batch.recipients
        ]
        delta = SendCounts(pending=len(chosen), failed=-len(chosen), resendable=-len(chosen))
        store.commit_settlement(batch, settlement(batch, recipients, delta, with_events=False))  # no event
        return len(chosen)

    return retry_on_conflict(attempt)


def resend(
    store: SendStore,
    queue: JobQueue,
    send: SendItem,
    *,
    batch_numbers: list[int] | None = None,
    selects: Selects = lambda r: True,
    now: datetime | None = None,
) -> int:
    """Resend the chosen resendable failures of a send; returns how many went back to PENDING."""
    if send.status != "QUEUED":
        raise InvalidState(f"a {send.status} send has nothing to resend")
    moment = now or utc_now()
    numbers = batch_numbers if batch_numbers is not None else store.resendable_batches(send.send_id)
    resent = {n: _resend_batch(store, send, n, selects, moment) for n in numbers}
    enqueue_batches(queue, send, [n for n, count in resent.items() if count])
    return sum(resent.values())


def resend_send(
    store: SendStore, queue: JobQueue, account_id: str, kind: SendKind, send_id: str, channel: Channel | None = None
) -> int:
    send = require(store.get_send(account_id, kind, send_id), "send")
    return resend(store, queue, send, selects=lambda r: channel is None or r.channel == channel)


def resend_recipient(
    store: SendStore, queue: JobQueue, account_id: str, kind: SendKind, send_id: str, recipient_id: str
) -> int:
    send = require(store.get_send(account_id, kind, send_id), "send")
    batch_no = batch_no_of(recipient_id, send.batch_size)
    batch = store.get_batch(send_id, batch_no) if batch_no is not None and batch_no < send.batch_count else None
    if batch is None or all(r.rid != recipient_id for r in batch.recipients):
        require(None, "recipient")
    resent = resend(store, queue, send, batch_numbers=[batch_no or 0], selects=lambda r: r.rid == recipient_id)
    if resent == 0:
        raise NotResendable("this recipient has no resendable failure")
    return resent


def retry_provider_errors(store: SendStore, queues: Mapping[SendKind, JobQueue], now: datetime, max_rounds: int) -> int:
    """The retry job: provider errors whose backoff has passed go round again, up to `max_rounds` rounds; and a
    batch resent (PENDING again) whose job never reached the queue is queued again."""

    def due(r: RecipientState) -> bool:
        return r.reason == "PROVIDER_ERROR" and r.round < max_rounds and r.retry_at is not None and r.retry_at <= now

    retried = 0
    sends: dict[str, SendItem | None] = {}
    for batch in store.batches_due_for_retry(now):
        if batch.send_id not in sends:
            sends[batch.send_id] = store.get_send(batch.account_id, batch.kind, batch.send_id)
        send = sends[batch.send_id]
        if send is None or send.status != "QUEUED":
            continue
        if batch.reservation is None and any(r.status == "PENDING" for r in batch.recipients):
            enqueue_batches(queues[batch.kind], send, [batch.batch_no])  # a duplicate job changes nothing
            continue
        retried += resend(store, queues[batch.kind], send, batch_numbers=[batch.batch_no], now=now, selects=due)
    return retried


def submit(store: SendStore, queue: JobQueue, account_id: str, kind: SendKind, send_id: str) -> SendItem:
    """DRAFT -> SCHEDULED (send_at still ahead) or QUEUED (dispatched now)."""
    now = utc_now()
    send = require(store.get_send(account_id, kind, send_id), "send")
    scheduled = send.send_at is not None and send.send_at > now
    status: StoredSendStatus = "SCHEDULED" if scheduled else "QUEUED"
    if not store.change_send_status(send, ("DRAFT",), status, send.send_at if scheduled else now + DISPATCH_GRACE):
        raise InvalidState(f"only a DRAFT send can be submitted (this one is {send.status})")
    started = send.model_copy(update={"status": status})
    if status == "QUEUED":
        enqueue_batches(queue, started, range(send.batch_count))
        store.mark_dispatched(account_id, kind, send_id)
    return started


def cancel(
    store: SendStore, account_id: str, kind: SendKind, send_id: str, publisher: Publisher | None = None
) -> SendItem:
    """DRAFT or SCHEDULED -> CANCELLED, and its pending recipients FAILED / CANCELLED (never charged: nothing
    of a send that has not started was processed; not resendable).

    The status change is the conditional write that decides a race with the dispatcher (SCHEDULED -> QUEUED) or
    a submit: exactly one wins, and once CANCELLED nothing dispatches, processes or resends the send. It keeps
    the send in the dispatch index until every batch is closed, so if this call dies half-way the dispatcher
    closes the rest after the grace period."""
    send = require(store.get_send(account_id, kind, send_id), "send")
    if not store.change_send_status(send, ("DRAFT", "SCHEDULED"), "CANCELLED", utc_now() + DISPATCH_GRACE):
        raise InvalidState(f"only a DRAFT or SCHEDULED send can be cancelled (this one is {send.status})")
    close_cancelled(store, send.model_copy(update={"status": "CANCELLED"}), publisher)
    return require(store.get_send(account_id, kind, send_id), "send")


def close_cancelled(store: SendStore, send: SendItem, publisher: Publisher | None = None) -> int:
    """Every pending recipient of a cancelled send becomes FAILED / CANCELLED, one conditional write per batch;
    then the send leaves the dispatch index. Returns how many were closed (0 when a run before did it)."""
    now = utc_now()

    def close(first_read: BatchItem) -> int:
        unread = [first_read]  # the batch as the paged read found it; a lost condition reads it again

        def attempt() -> int:
            batch = unread.pop() if unread else store.get_batch(send.send_id, first_read.batch_no)
            pending = {r.rid for r in batch.recipients if r.status == "PENDING"} if batch else set()
            if batch is None or not pending:
                return 0
            recipients = [
                r.model_copy(
                    update={
                        "status": "FAILED",
                        "reason": "CANCELLED",
                        "resendable": False,
                        "retry_at": None,
                        "updated_at": now,
                    }
                )
                if r.rid in pending
                else r
                for r in batch.recipients
            ]
            delta = SendCounts(pending=-len(pending), failed=len(pending))
            closed = settlement(batch, recipients, delta, with_events=with_events)
            store.commit_settlement(batch, closed)
            publish_committed(store, publisher, closed.events)
            return len(pending)

        return retry_on_conflict(attempt)

    with_events = store.has_webhooks(send.account_id)
    batches = store.batches_from(send.send_id, 0, send.batch_count, consistent=True)
    closed = sum(close(batch) for batch in batches)
    store.mark_dispatched(send.account_id, send.kind, send.send_id)
    return closed
