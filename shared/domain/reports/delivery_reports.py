"""Delivery reports: the provider's later word on a notification it accepted (contract v1.1, "Delivery receipts").

A recipient is SENT once the provider accepted its message. The report settles it: delivered sets
``delivered_at``; a number or mailbox that does not exist makes it FAILED / INVALID_RECIPIENT and gives its count
back (an invalid recipient never costs anything); any other final non-delivery is a provider error at send time
after all: FAILED / PROVIDER_ERROR, resendable, count back, retried automatically while rounds are left.

A report is applied once. It names the recipient attempt (send, batch, recipient, round), and it changes the
recipient only while that attempt is the recipient's current one and still SENT without a delivery time; the
change, the send's counters and the refund with its ledger entry are one conditional write on the batch's
version. So a duplicate, a report after a later one, a report about an earlier round and a crash between taking a
report and writing it all change nothing more. A report that comes before its batch is settled (the provider was
quicker than our write) raises ReportNotReady, and its queue hands it over again later.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from shared.domain.attempts import RecipientAttempt
from shared.domain.balances import give_back_counts, retry_on_conflict
from shared.domain.clock import utc_now
from shared.domain.events.alerts import Publisher, publish_committed
from shared.domain.sends.sends import automatic_retry_at, settlement
from shared.domain.store import BalanceChange, OutboxStore, SendSettlement
from shared.ids import new_id
from shared.models.common import RESENDABLE_REASONS, Channel, FailureReason
from shared.models.items import Balance, BatchItem, CountsTaken, LedgerEntryItem, RecipientState, SendCounts
from shared.models.reports import DeliveryReport

logger = logging.getLogger(__name__)


class ReportNotReady(Exception):
    """The report's recipient is still being sent; apply the report again later."""


class ReportEffect(StrEnum):
    DELIVERED = "DELIVERED"
    INVALID_RECIPIENT = "INVALID_RECIPIENT"
    PROVIDER_ERROR = "PROVIDER_ERROR"
    UNCHANGED = "UNCHANGED"  # a duplicate, an earlier round, or a recipient settled already
    UNKNOWN = "UNKNOWN"  # no such send, batch or recipient (e.g. a report of another service's message)
    NOT_READY = "NOT_READY"  # the recipient is still being sent: the report is applied again later


class ReportStore(OutboxStore, Protocol):
    def get_batch(self, send_id: str, batch_no: int) -> BatchItem | None: ...

    def has_webhooks(self, account_id: str) -> bool: ...

    def get_balance(self, account_id: str) -> Balance: ...

    def commit_report(self, batch: BatchItem, settlement: SendSettlement, refund: BalanceChange | None) -> None:
        """Like commit_settlement, but a reservation in progress on the batch stays as it is."""
        ...


@dataclass(frozen=True)
class RetryPolicy:
    """The batch engine's automatic retries of provider errors (shared.domain.sends.batch_processing.BatchWorker)."""

    rounds: int = 3
    base_seconds: float = 60


def apply_reports(
    store: ReportStore, reports: Sequence[DeliveryReport], retry: RetryPolicy, publisher: Publisher | None = None
) -> list[ReportEffect]:
    """Apply reports (any order, duplicates allowed), one conditional write per batch they concern; an effect per
    report. Raises ReportNotReady, after writing what could be written, when some report came too early. The
    account events of each write are published after it (or by the dispatcher, should that fail)."""
    effects: dict[int, ReportEffect] = {}
    by_batch: dict[tuple[str, int], list[tuple[int, RecipientAttempt, DeliveryReport]]] = defaultdict(list)
    for n, report in enumerate(reports):
        attempt = RecipientAttempt.parse(report.attempt)
        if attempt is None:
            logger.warning("report for an attempt this service did not make", extra={"provider": report.provider})
            effects[n] = ReportEffect.UNKNOWN
        else:
            by_batch[(attempt.send_id, attempt.batch_no)].append((n, attempt, report))
    early = False
    for (send_id, batch_no), items in by_batch.items():

        def once(
            send_id: str = send_id, batch_no: int = batch_no, items: list = items
        ) -> tuple[dict[int, ReportEffect], SendSettlement | None]:
            return _apply_to_batch(store, send_id, batch_no, items, retry)

        batch_effects, written = retry_on_conflict(once)
        if written is not None:
            publish_committed(store, publisher, written.events)
        early = early or any(e is ReportEffect.NOT_READY for e in batch_effects.values())
        effects |= batch_effects
    if early:
        raise ReportNotReady("a report's recipient has not been settled yet")
    return [effects[n] for n in range(len(reports))]


def _apply_to_batch(
    store: ReportStore,
    send_id: str,
    batch_no: int,
    items: list[tuple[int, RecipientAttempt, DeliveryReport]],
    retry: RetryPolicy,
) -> tuple[dict[int, ReportEffect], SendSettlement | None]:
    batch = store.get_batch(send_id, batch_no)
    if batch is None:
        return {n: ReportEffect.UNKNOWN for n, _, _ in items}, None
    recipients = {r.rid: r for r in batch.recipients}
    effects: dict[int, ReportEffect] = {}
    refunds: list[RecipientState] = []
    now = utc_now()
    for n, attempt, report in sorted(items, key=lambda item: item[2].occurred_at):
        recipient = recipients.get(attempt.rid)
        if recipient is None or recipient.channel is None:
            effects[n] = ReportEffect.UNKNOWN
        elif recipient.round != attempt.round:
            effects[n] = ReportEffect.UNCHANGED  # about an earlier round
        elif recipient.status == "PENDING":
            effects[n] = ReportEffect.NOT_READY
        elif recipient.status != "SENT" or recipient.delivered_at is not None:
            effects[n] = ReportEffect.UNCHANGED  # settled by an earlier report
        elif report.outcome == "DELIVERED":
            # Never before sent_at: a provider may date the report at acceptance, before our write.
            delivered_at = max(report.occurred_at, recipient.sent_at or report.occurred_at)
            recipients[attempt.rid] = recipient.model_copy(update={"delivered_at": delivered_at, "updated_at": now})
            effects[n] = ReportEffect.DELIVERED
        else:
            failed = _failed(recipient, report, retry, now)
            recipients[attempt.rid] = failed
            refunds.append(recipient)
            effects[n] = (
                ReportEffect.INVALID_RECIPIENT if failed.reason == "INVALID_RECIPIENT" else ReportEffect.PROVIDER_ERROR
            )
    if not any(e in _CHANGES for e in effects.values()):
        return effects, None
    resendable = sum(1 for r in refunds if recipients[r.rid].resendable)
    delta = SendCounts(sent=-len(refunds), failed=len(refunds), resendable=resendable)
    with_events = store.has_webhooks(batch.account_id)
    changed = settlement(batch, [recipients[r.rid] for r in batch.recipients], delta, with_events=with_events)
    store.commit_report(batch, changed, _counts_back(store, batch, refunds) if refunds else None)
    return effects, changed


_CHANGES = frozenset({"DELIVERED", "INVALID_RECIPIENT", "PROVIDER_ERROR"})


def _failed(recipient: RecipientState, report: DeliveryReport, retry: RetryPolicy, now: datetime) -> RecipientState:
    invalid = report.outcome == "RECIPIENT_NOT_FOUND"
    reason: FailureReason = "INVALID_RECIPIENT" if invalid else "PROVIDER_ERROR"
    retry_at = None if invalid else automatic_retry_at(recipient.round, retry.rounds, retry.base_seconds, now)
    return recipient.model_copy(
        update={
            "status": "FAILED",
            "reason": reason,
            "resendable": reason in RESENDABLE_REASONS,
            "charged": 0,
            "charge_id": None,
            "updated_at": now,
            "retry_at": retry_at,
        }
    )


def _counts_back(store: ReportStore, batch: BatchItem, recipients: list[RecipientState]) -> BalanceChange:
    """Each recipient's count back to the charge it came from, one NOTIFICATION_REFUND entry per channel."""
    funds = store.get_balance(batch.account_id)
    after = funds
    entries: list[LedgerEntryItem] = []
    entry_id = new_id("led")
    by_channel: dict[Channel, list[RecipientState]] = defaultdict(list)
    for recipient in recipients:
        assert recipient.channel is not None
        by_channel[recipient.channel].append(recipient)
    for channel, group in by_channel.items():
        given = Counter(r.charge_id or _newest_open_charge(funds, channel) for r in group)
        after = give_back_counts(after, channel, [CountsTaken(charge_id=c, count=n) for c, n in given.items()])
        entries.append(
            LedgerEntryItem(
                entry_id=f"{entry_id}{channel}",
                account_id=batch.account_id,
                created_at=utc_now(),
                type="NOTIFICATION_REFUND",
                notification_channel=channel,
                notification_count=len(group),
                quantity=len(group),
                send_id=batch.send_id,
            )
        )
    return BalanceChange(funds, after, entries[0], extra_entries=tuple(entries[1:]))


def _newest_open_charge(funds: Balance, channel: Channel) -> str:
    """A recipient sent before sends recorded the paying charge: its count goes to the newest open charge, or
    to a charge of its own (never refundable as a purchase, since no such charge exists)."""
    return max((c.charge_id for c in funds.open_for(channel)), default=f"returned_{channel}")
