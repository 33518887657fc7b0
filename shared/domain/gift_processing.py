"""Background processing of one batch of gift recipients: reserve credits, issue, settle.

The batch item is a small state machine guarded by its version:
  pending  --reserve-->  reserved (credits debited for `charged`, durable)  --settle-->  settled
Reserve and settle are each one DynamoDB transaction with the balance change and its ledger entry, so
a crash between any two steps, a duplicate message or a concurrent consumer can neither charge twice
nor lose a recipient: a redelivered job finds the reservation and finishes it with the same provider
idempotency keys, and only one settlement per reservation can win its condition.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from shared.adapters.dynamo import BalanceChange, DataStore, account_pk, batch_key, send_sk
from shared.adapters.gift_provider import GiftProvider, IssueOutcome, IssueRequest
from shared.clock import utc_now
from shared.domain.alerts import Publisher, balance_low_events, publish_committed
from shared.domain.balances import retry_on_conflict
from shared.domain.sends import BatchJob
from shared.errors import ProviderRejected, ProviderUnavailable
from shared.ids import new_id
from shared.models.common import RESENDABLE_REASONS, FailureReason
from shared.models.items import (
    AlertSettings,
    Balance,
    BatchItem,
    GiftItem,
    LedgerEntryItem,
    RecipientState,
    Reservation,
    SendCounts,
    SendItem,
)

logger = logging.getLogger(__name__)


def _no_checkpoint(step: str) -> None:
    return None


@dataclass(frozen=True)
class GiftProcessing:
    store: DataStore
    provider: GiftProvider
    max_attempts: int = 3
    retry_base_seconds: float = 0.2
    concurrency: int = 8
    sleep: Callable[[float], None] = time.sleep
    publisher: Publisher | None = None
    # Called at each step boundary; fault-injection tests make it raise to simulate a dying Lambda.
    checkpoint: Callable[[str], None] = field(default=_no_checkpoint)


@dataclass(frozen=True)
class Outcome:
    status: str  # SENT | FAILED
    reason: FailureReason | None = None
    calls: int = 0
    coupon_id: str | None = None
    expires_on: str | None = None

    @property
    def refund(self) -> bool:
        return self.status == "FAILED"


def process_gift_batch(deps: GiftProcessing, job: BatchJob) -> None:
    store = deps.store
    pk = account_pk(job.account_id)
    key = batch_key(job.send_id, job.batch_no)
    gift_key = ("CATALOG", f"GIFT#{job.gift_id}")
    found = store.get_many(
        [(key["pk"], key["sk"]), (pk, send_sk("GIFT", job.send_id)), (pk, "BALANCE"), gift_key, (pk, "ALERTS")]
    )
    alerts = AlertSettings.model_validate(found[(pk, "ALERTS")]) if (pk, "ALERTS") in found else None
    raw_batch, raw_send = found.get((key["pk"], key["sk"])), found.get((pk, send_sk("GIFT", job.send_id)))
    if raw_batch is None or raw_send is None:
        logger.warning("gift batch job for a missing send or batch", extra={"send_id": job.send_id})
        return
    batch, send = BatchItem.model_validate(raw_batch), SendItem.model_validate(raw_send)
    if send.status in ("DRAFT", "SCHEDULED", "CANCELLED"):
        logger.warning("gift batch job for a send that is not queued", extra={"status": send.status})
        return
    balance = Balance.model_validate(found[(pk, "BALANCE")])

    if batch.reservation is None:
        raw_gift = found.get(gift_key) if job.gift_id == send.gift_id else None
        gift = GiftItem.model_validate(raw_gift) if raw_gift else store.get_gift(send.gift_id or "")
        if gift is None or gift.status != "ON_SALE":
            _settle_unavailable(deps, batch, send)
            return
        reserved = _reserve(deps, batch, balance, gift, alerts)
        if reserved is None:
            return
        batch = reserved
    deps.checkpoint("reserved")
    assert batch.reservation is not None
    outcomes = _issue_all(deps, batch, batch.reservation, send)
    deps.checkpoint("issued")
    _settle(deps, batch, send, outcomes)
    deps.checkpoint("settled")


def _reserve(
    deps: GiftProcessing, batch: BatchItem, balance: Balance, gift: GiftItem, alerts: AlertSettings | None
) -> BatchItem | None:
    """Debit the price of as many pending recipients as the balance covers, in one conditional write."""
    state = {"batch": batch, "balance": balance, "fresh": True}
    committed: list[BalanceChange] = []

    def attempt() -> BatchItem | None:
        if not state["fresh"]:
            state["batch"] = deps.store.get_batch(batch.send_id, batch.batch_no)
            state["balance"] = deps.store.get_balance(batch.account_id)
        state["fresh"] = False
        current: BatchItem | None = state["batch"]  # type: ignore[assignment]
        funds: Balance = state["balance"]  # type: ignore[assignment]
        if current is None:
            return None
        if current.reservation is not None:
            return current  # a concurrent delivery reserved first; finish its reservation
        pending = [r.rid for r in current.recipients if r.status == "PENDING"]
        if not pending:
            return None
        affordable = len(pending) if gift.price == 0 else min(len(pending), funds.credits // gift.price)
        charged, short = pending[:affordable], pending[affordable:]
        entry_id = new_id("led")
        debit = None
        if charged:
            after = funds.model_copy(update={"credits": funds.credits - gift.price * len(charged)})
            debit = BalanceChange(funds, after, LedgerEntryItem(
                entry_id=entry_id, account_id=batch.account_id, created_at=utc_now(), type="GIFT_DEBIT",
                credits_delta=-gift.price * len(charged), quantity=len(charged), send_id=batch.send_id,
                credits_after=after.credits,
            ), balance_low_events(funds, after, alerts))
        reservation = Reservation(price=gift.price, charged=charged, short=short, entry_id=entry_id)
        deps.store.commit_reservation(current, reservation, debit)
        if debit:
            committed.append(debit)
        return current.model_copy(update={"version": current.version + 1, "reservation": reservation})

    reserved = retry_on_conflict(attempt)
    if committed:
        publish_committed(deps.store, deps.publisher, committed[-1].events)
    return reserved


def _issue_one(deps: GiftProcessing, request: IssueRequest) -> Outcome:
    """Call the provider, retrying transient failures with the same idempotency key."""
    for call in range(1, deps.max_attempts + 1):
        try:
            result = deps.provider.issue(request)
        except ProviderRejected:
            # Misconfiguration (e.g. a revoked key): fail this recipient resendably and refund, rather
            # than stall the whole batch in the dead-letter queue; a resend works once it is fixed.
            logger.exception("gift provider rejected the request")
            return Outcome("FAILED", "PROVIDER_ERROR", calls=call)
        except ProviderUnavailable:
            if call == deps.max_attempts:
                return Outcome("FAILED", "PROVIDER_ERROR", calls=call)
            deps.sleep(deps.retry_base_seconds * 2 ** (call - 1))
            continue
        if result.outcome is IssueOutcome.ISSUED and result.coupon_id and result.expires_on:
            return Outcome("SENT", calls=call, coupon_id=result.coupon_id, expires_on=result.expires_on.isoformat())
        if result.outcome is IssueOutcome.RECIPIENT_NOT_FOUND:
            return Outcome("FAILED", "INVALID_RECIPIENT", calls=call)
        return Outcome("FAILED", "GIFT_UNAVAILABLE", calls=call)
    raise AssertionError("unreachable")


def _issue_all(
    deps: GiftProcessing, batch: BatchItem, reservation: Reservation, send: SendItem
) -> dict[str, Outcome]:
    by_id = {r.rid: r for r in batch.recipients}
    requests = {
        rid: IssueRequest(
            idempotency_key=f"{batch.send_id}:{rid}:{by_id[rid].round}", gift_id=send.gift_id or "",
            phone=by_id[rid].phone, title=send.title, content=send.content,
        )
        for rid in reservation.charged
    }
    outcomes = {rid: Outcome("FAILED", "INSUFFICIENT_CREDITS") for rid in reservation.short}
    if requests:
        with ThreadPoolExecutor(max_workers=min(deps.concurrency, len(requests))) as pool:
            results = pool.map(lambda rid: (rid, _issue_one(deps, requests[rid])), list(requests))
            outcomes.update(dict(results))
    return outcomes


def _apply(
    recipient: RecipientState, outcome: Outcome, price: int, charged: bool, now: datetime
) -> RecipientState:
    sent = outcome.status == "SENT"
    return recipient.model_copy(
        update={
            "status": outcome.status,
            "reason": outcome.reason,
            "resendable": outcome.reason in RESENDABLE_REASONS,
            "attempts": recipient.attempts + outcome.calls,
            "charged": price if (sent and charged) else 0,
            "coupon_id": outcome.coupon_id,
            "expires_on": outcome.expires_on,
            "sent_at": now if sent else recipient.sent_at,
            "updated_at": now,
        }
    )


def _settle(deps: GiftProcessing, batch: BatchItem, send: SendItem, outcomes: dict[str, Outcome]) -> None:
    """Write every outcome, the send's counters and one refund for the failed charged recipients."""
    reservation = batch.reservation
    assert reservation is not None
    state = {"batch": batch, "fresh": True}

    def attempt() -> None:
        if not state["fresh"]:
            state["batch"] = deps.store.get_batch(batch.send_id, batch.batch_no)
        state["fresh"] = False
        current: BatchItem | None = state["batch"]  # type: ignore[assignment]
        if current is None or current.reservation is None or current.reservation.entry_id != reservation.entry_id:
            return  # settled already by a concurrent delivery
        now = utc_now()
        charged = set(reservation.charged)
        recipients = [
            _apply(r, outcomes[r.rid], reservation.price, r.rid in charged, now) if r.rid in outcomes else r
            for r in current.recipients
        ]
        refunded = [rid for rid in reservation.charged if outcomes[rid].refund]
        refund = None
        if refunded:
            funds = deps.store.get_balance(batch.account_id)
            amount = reservation.price * len(refunded)
            after = funds.model_copy(update={"credits": funds.credits + amount})
            refund = BalanceChange(funds, after, LedgerEntryItem(
                entry_id=new_id("led"), account_id=batch.account_id, created_at=now, type="GIFT_REFUND",
                credits_delta=amount, quantity=len(refunded), send_id=batch.send_id, credits_after=after.credits,
            ))
        deps.store.commit_settlement(
            current, recipients, "GIFT", _counts_delta(outcomes.values()), len(outcomes), refund
        )

    retry_on_conflict(attempt)


def _counts_delta(outcomes: Iterable[Outcome]) -> SendCounts:
    settled = list(outcomes)
    failed = [o for o in settled if o.status == "FAILED"]
    return SendCounts(
        pending=-len(settled),
        sent=len(settled) - len(failed),
        failed=len(failed),
        resendable=sum(1 for o in failed if o.reason in RESENDABLE_REASONS),
    )


def _settle_unavailable(deps: GiftProcessing, batch: BatchItem, send: SendItem) -> None:
    """The gift was discontinued before this batch ran: its pending recipients fail without a debit."""

    def attempt() -> None:
        current = deps.store.get_batch(batch.send_id, batch.batch_no)
        if current is None or current.reservation is not None:
            return
        pending = [r.rid for r in current.recipients if r.status == "PENDING"]
        if not pending:
            return
        now = utc_now()
        outcomes = {rid: Outcome("FAILED", "GIFT_UNAVAILABLE") for rid in pending}
        recipients = [_apply(r, outcomes[r.rid], 0, False, now) if r.rid in outcomes else r
                      for r in current.recipients]
        deps.store.commit_settlement(current, recipients, "GIFT", _counts_delta(outcomes.values()), len(pending), None)

    retry_on_conflict(attempt)
