"""Notification batches: one count of each recipient's channel is taken (oldest charge first) for every
recipient the counts cover; a provider error or a recipient that does not exist gives its count back."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from shared.domain.balances import CHANNELS, give_back_counts, take_counts
from shared.domain.clock import utc_now
from shared.domain.notifications.messages import render_message
from shared.domain.notifications.sender import MessageResult, MessageStatus, NotificationMessage, NotificationSender
from shared.domain.sends.batch_processing import BatchWorker, Outcome, Taking, attempt_key, deliver_in_bulk, ids_of
from shared.domain.store import BatchContext
from shared.models.common import Channel, FailureReason, LedgerType
from shared.models.items import (
    Balance,
    BatchItem,
    CountsTaken,
    LedgerEntryItem,
    RecipientState,
    Reservation,
    SendItem,
)


def _entry(batch: BatchItem, kind: LedgerType, channel: Channel, count: int, entry_id: str) -> LedgerEntryItem:
    return LedgerEntryItem(
        entry_id=f"{entry_id}{channel}",
        account_id=batch.account_id,
        created_at=utc_now(),
        type=kind,
        notification_channel=channel,
        notification_count=count if kind == "NOTIFICATION_REFUND" else -count,
        quantity=count,
        send_id=batch.send_id,
    )


def _returned_from(taken: list[CountsTaken], count: int) -> list[CountsTaken]:
    """Which charges get `count` counts back: the newest taken first, so older charges stay used."""
    back: list[CountsTaken] = []
    for part in reversed(taken):
        give = min(count, part.count)
        if give:
            back.append(CountsTaken(charge_id=part.charge_id, count=give))
            count -= give
    return back


@dataclass(frozen=True)
class NotificationPayment:
    """Notification sends' BatchPayment."""

    sender: NotificationSender
    short_reason: FailureReason = "INSUFFICIENT_NOTIFICATION_BALANCE"

    def unavailable(self, context: BatchContext) -> FailureReason | None:
        return None

    def take(
        self, funds: Balance, batch: BatchItem, pending: list[RecipientState], context: BatchContext, entry_id: str
    ) -> Taking:
        after = funds
        charged: list[RecipientState] = []
        short: list[RecipientState] = []
        counts_taken: dict[Channel, list[CountsTaken]] = {}
        entries: list[LedgerEntryItem] = []
        for channel in CHANNELS:
            group = [r for r in pending if r.channel == channel]
            if not group:
                continue
            after, taken = take_counts(after, channel, len(group))
            covered = sum(part.count for part in taken)
            charged += group[:covered]
            short += group[covered:]
            if covered:
                counts_taken[channel] = taken
                entries.append(_entry(batch, "NOTIFICATION_DEBIT", channel, covered, entry_id))
        reservation = Reservation(
            charged=ids_of(charged), short=ids_of(short), entry_id=entry_id, counts_taken=counts_taken
        )
        return Taking(after, reservation, tuple(entries))

    def give_back(
        self, funds: Balance, batch: BatchItem, refunded: list[RecipientState], entry_id: str
    ) -> tuple[Balance, tuple[LedgerEntryItem, ...]]:
        assert batch.reservation is not None
        after = funds
        entries = []
        for channel, count in Counter(r.channel for r in refunded if r.channel).items():
            taken = batch.reservation.counts_taken.get(channel, [])
            after = give_back_counts(after, channel, _returned_from(taken, count))
            entries.append(_entry(batch, "NOTIFICATION_REFUND", channel, count, entry_id))
        return after, tuple(entries)

    def deliver(
        self, worker: BatchWorker, send: SendItem, batch_no: int, recipients: list[RecipientState], batch_key: str
    ) -> dict[str, Outcome]:
        """One provider batch per channel family (email; sms and lms together, as an SMS gateway takes both)."""
        outcomes: dict[str, Outcome] = {}
        for family, members in _by_family(recipients).items():
            messages = {r.rid: self._message(send, batch_no, r) for r in members}

            def deliver_batch(
                key: str, waiting: list[RecipientState], messages: dict[str, NotificationMessage] = messages
            ) -> dict[str, Outcome | None]:
                results = self.sender.send_batch(key, [messages[r.rid] for r in waiting])
                return {r.rid: _outcome(results.get(messages[r.rid].idempotency_key)) for r in waiting}

            outcomes |= deliver_in_bulk(worker, members, send, f"{batch_key}-{family}", deliver_batch)
        return outcomes

    def funded_by(
        self, reservation: Reservation, recipients: list[RecipientState], outcomes: dict[str, Outcome]
    ) -> dict[str, str]:
        """Counts go back newest charge first (as give_back does); what stays taken pays for the sent messages,
        oldest charge first, in the order the reservation took them."""
        by_id = {r.rid: r for r in recipients}
        funded: dict[str, str] = {}
        for channel, taken in reservation.counts_taken.items():
            charged = [rid for rid in reservation.charged if by_id[rid].channel == channel]
            kept = [rid for rid in charged if rid in outcomes and not outcomes[rid].refund]
            returned = Counter[str]()
            for part in _returned_from(taken, len(charged) - len(kept)):
                returned[part.charge_id] += part.count
            payers = [part.charge_id for part in taken for _ in range(part.count - returned[part.charge_id])]
            funded |= dict(zip(kept, payers, strict=False))
        return funded

    def _message(self, send: SendItem, batch_no: int, recipient: RecipientState) -> NotificationMessage:
        assert recipient.channel is not None
        message = render_message(recipient.channel, send.title, send.content, recipient.name)
        destination = recipient.email if recipient.channel == "email" else recipient.phone
        return NotificationMessage(
            idempotency_key=attempt_key(send, batch_no, recipient),
            channel=message.channel,
            destination=destination or "",
            body=message.content,
            title=message.title,
        )

    def charged_credits(self, reservation: Reservation) -> int:
        return 0


def _by_family(recipients: list[RecipientState]) -> dict[str, list[RecipientState]]:
    families: dict[str, list[RecipientState]] = {}
    for recipient in recipients:
        families.setdefault("email" if recipient.channel == "email" else "sms", []).append(recipient)
    return families


def _outcome(result: MessageResult | None) -> Outcome | None:
    """None: not taken this time, so the engine asks again with the same key."""
    if result is None or result.status is MessageStatus.RETRY:
        return None
    if result.status is MessageStatus.ACCEPTED:
        return Outcome("SENT")  # a delivery report settles it later
    if result.status is MessageStatus.RECIPIENT_NOT_FOUND:
        return Outcome("FAILED", "INVALID_RECIPIENT")
    return Outcome("FAILED", "PROVIDER_ERROR")
