"""Background processing of one batch of recipients, shared by gift and notification sends.

The batch item is a small state machine guarded by its version:
  pending  --reserve-->  reserved (price or counts taken for `charged`, durable)  --settle-->  settled
Reserve and settle are each one DynamoDB transaction with the balance change and its ledger entry, so
a crash between any two steps, a duplicate message or a concurrent consumer can neither charge twice
nor lose a recipient: a redelivered job finds the reservation and finishes it with the same provider
idempotency keys, and only one settlement per reservation can win its condition.

What differs between gifts and notifications (what is taken from the balance, how one recipient is
delivered, why a recipient the balance did not cover fails) is the kind's `BatchPayment`, built once per
consumer; everything else is here once and never asks which kind it is processing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Protocol

from shared.domain.attempts import RecipientAttempt
from shared.domain.balances import retry_on_conflict
from shared.domain.clock import utc_now
from shared.domain.events.alerts import Publisher, balance_low_events, publish_committed
from shared.domain.jobs import BatchJob
from shared.domain.sends.sends import automatic_retry_at, settlement
from shared.domain.store import BalanceChange, BatchContext, BatchStore, SendSettlement
from shared.errors import ProviderRejected, ProviderUnavailable
from shared.ids import new_id
from shared.models.common import RESENDABLE_REASONS, FailureReason, RecipientStatus, SendKind
from shared.models.items import (
    Balance,
    BatchItem,
    LedgerEntryItem,
    RecipientState,
    Reservation,
    SendCounts,
    SendItem,
)

logger = logging.getLogger(__name__)


def _no_checkpoint(step: str) -> None:
    return None


class MetricSink(Protocol):
    """Where operational figures go (Powertools Metrics in the functions; nothing in tests)."""

    def __call__(self, name: str, value: float, unit: str, dimension: str | None = None) -> None: ...


def _no_metrics(name: str, value: float, unit: str, dimension: str | None = None) -> None:
    return None


class BatchPayment(Protocol):
    """The kind-specific part of processing a batch (gifts: credits and gifticons; notifications: counts and
    messages)."""

    @property
    def short_reason(self) -> FailureReason:
        """What a recipient the balance did not cover fails with."""
        ...

    def unavailable(self, context: BatchContext) -> FailureReason | None:
        """A reason every pending recipient fails without any charge (e.g. a discontinued gift)."""
        ...

    def take(
        self, funds: Balance, batch: BatchItem, pending: list[RecipientState], context: BatchContext, entry_id: str
    ) -> Taking: ...

    def give_back(
        self, funds: Balance, batch: BatchItem, refunded: list[RecipientState], entry_id: str
    ) -> tuple[Balance, tuple[LedgerEntryItem, ...]]: ...

    def deliver(
        self, worker: BatchWorker, send: SendItem, batch_no: int, recipients: list[RecipientState], batch_key: str
    ) -> dict[str, Outcome]:
        """Deliver to the charged recipients (retrying transient failures with the same keys); an outcome per
        recipient id. ``batch_key`` is stable for the reservation, so a redelivered job repeats the same calls."""
        ...

    def funded_by(
        self, reservation: Reservation, recipients: list[RecipientState], outcomes: dict[str, Outcome]
    ) -> dict[str, str]:
        """Which charge paid for each recipient that stays charged (notifications; gifts: none), so a late
        report can give that count back."""
        ...

    def charged_credits(self, reservation: Reservation) -> int: ...


@dataclass(frozen=True)
class BatchWorker:
    store: BatchStore
    payment: BatchPayment
    max_attempts: int = 3
    retry_base_seconds: float = 0.2
    concurrency: int = 8
    sleep: Callable[[float], None] = time.sleep
    publisher: Publisher | None = None
    # Provider errors are retried automatically this many rounds, the n-th after base * 2**n seconds.
    auto_retry_rounds: int = 3
    auto_retry_base_seconds: float = 60
    # Called at each step boundary; fault-injection tests make it raise to simulate a dying Lambda.
    checkpoint: Callable[[str], None] = field(default=_no_checkpoint)
    metric: MetricSink = field(default=_no_metrics)


@dataclass(frozen=True)
class Outcome:
    status: RecipientStatus  # SENT or FAILED
    reason: FailureReason | None = None
    calls: int = 0
    coupon_id: str | None = None
    expires_on: str | None = None

    @property
    def refund(self) -> bool:
        return self.status == "FAILED"


@dataclass(frozen=True)
class Taking:
    """What a reservation takes from the balance for the pending recipients it can cover."""

    after: Balance
    reservation: Reservation
    entries: tuple[LedgerEntryItem, ...] = ()  # empty when nothing was taken


def process_batch(worker: BatchWorker, job: BatchJob) -> None:
    context = worker.store.batch_context(job)
    if context is None:
        logger.warning("batch job for a missing send or batch", extra={"send_id": job.send_id})
        return
    if context.send.status in ("DRAFT", "SCHEDULED", "CANCELLED"):
        logger.warning("batch job for a send that is not queued", extra={"status": context.send.status})
        return
    batch = context.batch
    if batch.reservation is None:
        reason = worker.payment.unavailable(context)
        if reason is not None:
            _fail_pending_without_charge(worker, batch, reason, context.has_webhooks)
            return
        reserved = _reserve(worker, context)
        if reserved is None:
            return
        batch = reserved
    worker.checkpoint("reserved")
    assert batch.reservation is not None
    outcomes = _deliver_all(worker, batch, batch.reservation, context.send)
    worker.checkpoint("issued")
    _settle(worker, batch, outcomes, context.has_webhooks)
    worker.checkpoint("settled")


def _reserve(worker: BatchWorker, context: BatchContext) -> BatchItem | None:
    """Take what the balance covers for the pending recipients, in one conditional write."""
    batch = context.batch
    state: dict[str, Any] = {"batch": batch, "balance": context.balance, "fresh": True}
    committed: list[BalanceChange] = []

    def attempt() -> BatchItem | None:
        if not state["fresh"]:
            state["batch"] = worker.store.get_batch(batch.send_id, batch.batch_no)
            state["balance"] = worker.store.get_balance(batch.account_id)
        state["fresh"] = False
        current: BatchItem | None = state["batch"]
        funds: Balance = state["balance"]
        if current is None:
            return None
        if current.reservation is not None:
            return current  # a concurrent delivery reserved first; finish its reservation
        pending = [r for r in current.recipients if r.status == "PENDING"]
        if not pending:
            return None
        taking = worker.payment.take(funds, current, pending, context, new_id("led"))
        change = None
        if taking.entries:
            first, *more = taking.entries
            events = balance_low_events(funds, taking.after, context.alerts)
            change = BalanceChange(funds, taking.after, first, events, tuple(more))
        worker.store.commit_reservation(current, taking.reservation, change)
        if change:
            committed.append(change)
        return current.model_copy(update={"version": current.version + 1, "reservation": taking.reservation})

    reserved = retry_on_conflict(attempt)
    if committed:
        publish_committed(worker.store, worker.publisher, committed[-1].events)
    return reserved


def attempt_key(send: SendItem, batch_no: int, recipient: RecipientState) -> str:
    return RecipientAttempt(send.send_id, batch_no, recipient.rid, recipient.round).key


def deliver_each(
    worker: BatchWorker,
    recipients: list[RecipientState],
    send: SendItem,
    batch_no: int,
    deliver_once: Callable[[RecipientState, str], Outcome],
) -> dict[str, Outcome]:
    """For providers called once per recipient (gifticons): concurrent calls, each retried on a transient
    failure with the same idempotency key."""

    def one(recipient: RecipientState) -> dict[str, Outcome]:
        key = attempt_key(send, batch_no, recipient)
        return deliver_in_bulk(worker, [recipient], send, key, lambda k, _: {recipient.rid: deliver_once(recipient, k)})

    if not recipients:
        return {}
    outcomes: dict[str, Outcome] = {}
    with ThreadPoolExecutor(max_workers=min(worker.concurrency, len(recipients))) as pool:
        for outcome in pool.map(one, recipients):
            outcomes |= outcome
    return outcomes


def deliver_in_bulk(
    worker: BatchWorker,
    recipients: list[RecipientState],
    send: SendItem,
    batch_key: str,
    deliver_batch: Callable[[str, list[RecipientState]], dict[str, Outcome | None]],
) -> dict[str, Outcome]:
    """For providers that take a batch per request (SMS groups, bulk email): the whole batch, then again for
    the recipients the provider asked to retry (None) or after a transient failure of the whole call, always
    with the same batch key, so the provider can recognise what it already has."""
    outcomes: dict[str, Outcome] = {}
    waiting = list(recipients)
    for call in range(1, worker.max_attempts + 1):
        started = time.perf_counter()
        retry_after = 0.0
        try:
            results = deliver_batch(batch_key, waiting)
        except ProviderRejected:
            worker.metric("ProviderErrors", 1, "Count", send.kind)
            # Misconfiguration (e.g. a revoked key): fail these recipients resendably and refund, rather
            # than stall the whole batch in the dead-letter queue; a resend works once it is fixed.
            logger.exception("provider rejected the request")
            results = {r.rid: Outcome("FAILED", "PROVIDER_ERROR") for r in waiting}
        except ProviderUnavailable as exc:
            worker.metric("ProviderErrors", 1, "Count", send.kind)
            # A 429 is the provider's "not now": wait as long as it asked, then the same call with the same keys.
            retry_after = exc.retry_after or 0.0
            results = {}
        finally:
            worker.metric("ProviderLatency", (time.perf_counter() - started) * 1000, "Milliseconds", send.kind)
        for recipient in waiting:
            result = results.get(recipient.rid)
            if result is not None:
                outcomes[recipient.rid] = replace(result, calls=call)
        waiting = [r for r in waiting if r.rid not in outcomes]
        if not waiting:
            break
        if call < worker.max_attempts:
            worker.sleep(max(worker.retry_base_seconds * 2 ** (call - 1), retry_after))
    for recipient in waiting:
        outcomes[recipient.rid] = Outcome("FAILED", "PROVIDER_ERROR", calls=worker.max_attempts)
    return outcomes


def _deliver_all(worker: BatchWorker, batch: BatchItem, reservation: Reservation, send: SendItem) -> dict[str, Outcome]:
    by_id = {r.rid: r for r in batch.recipients}
    outcomes = {rid: Outcome("FAILED", worker.payment.short_reason) for rid in reservation.short}
    charged = [by_id[rid] for rid in reservation.charged]
    if charged:
        batch_key = f"{send.send_id}-{batch.batch_no}-{reservation.entry_id}"
        outcomes.update(worker.payment.deliver(worker, send, batch.batch_no, charged, batch_key))
    return outcomes


def _apply(
    worker: BatchWorker,
    recipient: RecipientState,
    outcome: Outcome,
    charge: int,
    now: datetime,
    charge_id: str | None = None,
) -> RecipientState:
    sent = outcome.status == "SENT"
    retry_at = None
    if outcome.reason == "PROVIDER_ERROR":
        retry_at = automatic_retry_at(recipient.round, worker.auto_retry_rounds, worker.auto_retry_base_seconds, now)
    return recipient.model_copy(
        update={
            "status": outcome.status,
            "reason": outcome.reason,
            "resendable": outcome.reason in RESENDABLE_REASONS,
            "attempts": recipient.attempts + outcome.calls,
            "charged": charge if sent else 0,
            "coupon_id": outcome.coupon_id,
            "expires_on": outcome.expires_on,
            "sent_at": now if sent else recipient.sent_at,
            "updated_at": now,
            "retry_at": retry_at,
            "charge_id": charge_id if sent else None,
            "delivered_at": None,
        }
    )


def _settle(worker: BatchWorker, batch: BatchItem, outcomes: dict[str, Outcome], with_events: bool) -> None:
    """Write every outcome, the send's counters and one refund for the failed charged recipients."""
    reservation = batch.reservation
    assert reservation is not None
    state: dict[str, Any] = {"batch": batch, "fresh": True}
    committed: list[SendSettlement] = []

    def attempt() -> None:
        if not state["fresh"]:
            state["batch"] = worker.store.get_batch(batch.send_id, batch.batch_no)
        state["fresh"] = False
        current: BatchItem | None = state["batch"]
        if current is None or current.reservation is None or current.reservation.entry_id != reservation.entry_id:
            return  # settled already by a concurrent delivery
        now = utc_now()
        charge = worker.payment.charged_credits(reservation)
        funded = worker.payment.funded_by(reservation, current.recipients, outcomes)
        recipients = [
            _apply(worker, r, outcomes[r.rid], charge, now, funded.get(r.rid)) if r.rid in outcomes else r
            for r in current.recipients
        ]
        charged = set(reservation.charged)
        refunded = [r for r in current.recipients if r.rid in charged and outcomes[r.rid].refund]
        refund = None
        if refunded:
            funds = worker.store.get_balance(batch.account_id)
            after, entries = worker.payment.give_back(funds, current, refunded, new_id("led"))
            refund = BalanceChange(funds, after, entries[0], extra_entries=entries[1:])
        settled = settlement(
            current, recipients, counts_delta(outcomes.values()), len(outcomes), with_events=with_events
        )
        worker.store.commit_settlement(current, settled, refund)
        committed.append(settled)

    retry_on_conflict(attempt)
    if committed:
        publish_committed(worker.store, worker.publisher, committed[-1].events)
    _report(worker, batch, outcomes)


def _report(worker: BatchWorker, batch: BatchItem, outcomes: dict[str, Outcome]) -> None:
    kind: SendKind = batch.kind
    sent = sum(1 for o in outcomes.values() if o.status == "SENT")
    worker.metric("RecipientsSent", sent, "Count", kind)
    for reason in {o.reason for o in outcomes.values() if o.reason}:
        worker.metric(f"Failures{reason}", sum(1 for o in outcomes.values() if o.reason == reason), "Count", kind)
    assert batch.reservation is not None
    worker.metric("CreditsDebited", worker.payment.charged_credits(batch.reservation) * sent, "Count", kind)


def counts_delta(outcomes: Iterable[Outcome]) -> SendCounts:
    settled = list(outcomes)
    failed = [o for o in settled if o.status == "FAILED"]
    return SendCounts(
        pending=-len(settled),
        sent=len(settled) - len(failed),
        failed=len(failed),
        resendable=sum(1 for o in failed if o.reason in RESENDABLE_REASONS),
    )


def _fail_pending_without_charge(
    worker: BatchWorker, batch: BatchItem, reason: FailureReason, with_events: bool
) -> None:
    """Every pending recipient fails at once and nothing is taken (e.g. the gift was discontinued)."""

    def attempt() -> SendSettlement | None:
        current = worker.store.get_batch(batch.send_id, batch.batch_no)
        if current is None or current.reservation is not None:
            return None
        pending = [r.rid for r in current.recipients if r.status == "PENDING"]
        if not pending:
            return None
        now = utc_now()
        outcomes = {rid: Outcome("FAILED", reason) for rid in pending}
        recipients = [
            _apply(worker, r, outcomes[r.rid], 0, now) if r.rid in outcomes else r for r in current.recipients
        ]
        settled = settlement(
            current, recipients, counts_delta(outcomes.values()), len(pending), with_events=with_events
        )
        worker.store.commit_settlement(current, settled)
        return settled

    settled = retry_on_conflict(attempt)
    if settled is not None:
        publish_committed(worker.store, worker.publisher, settled.events)


def ids_of(recipients: Sequence[RecipientState]) -> list[str]:
    return [r.rid for r in recipients]
