"""Gift batches: the gift's current price is debited from credits per recipient the balance covers, the
provider issues each gifticon (idempotency key per recipient attempt), failures are refunded."""

from __future__ import annotations

from dataclasses import dataclass

from shared.domain.clock import utc_now
from shared.domain.gifts.provider import GiftProvider, IssueOutcome, IssueRequest
from shared.domain.sends.batch_processing import BatchWorker, Outcome, Taking, deliver_each, ids_of
from shared.domain.store import BatchContext
from shared.models.common import FailureReason
from shared.models.items import Balance, BatchItem, LedgerEntryItem, RecipientState, Reservation, SendItem


@dataclass(frozen=True)
class GiftPayment:
    """Gift sends' BatchPayment."""

    provider: GiftProvider
    short_reason: FailureReason = "INSUFFICIENT_CREDITS"

    def unavailable(self, context: BatchContext) -> FailureReason | None:
        gift = context.gift
        return None if gift is not None and gift.status == "ON_SALE" else "GIFT_UNAVAILABLE"

    def take(
        self, funds: Balance, batch: BatchItem, pending: list[RecipientState], context: BatchContext, entry_id: str
    ) -> Taking:
        """The gift's current price (read with the batch), for as many recipients as the credits cover."""
        assert context.gift is not None  # unavailable() said so
        price = context.gift.price
        affordable = len(pending) if price == 0 else min(len(pending), funds.credits // price)
        charged, short = pending[:affordable], pending[affordable:]
        reservation = Reservation(price=price, charged=ids_of(charged), short=ids_of(short), entry_id=entry_id)
        if not charged:
            return Taking(funds, reservation)
        after = funds.model_copy(update={"credits": funds.credits - price * len(charged)})
        entry = LedgerEntryItem(
            entry_id=entry_id,
            account_id=batch.account_id,
            created_at=utc_now(),
            type="GIFT_DEBIT",
            credits_delta=-price * len(charged),
            quantity=len(charged),
            send_id=batch.send_id,
            credits_after=after.credits,
        )
        return Taking(after, reservation, (entry,))

    def give_back(
        self, funds: Balance, batch: BatchItem, refunded: list[RecipientState], entry_id: str
    ) -> tuple[Balance, tuple[LedgerEntryItem, ...]]:
        assert batch.reservation is not None
        amount = batch.reservation.price * len(refunded)
        after = funds.model_copy(update={"credits": funds.credits + amount})
        entry = LedgerEntryItem(
            entry_id=entry_id,
            account_id=funds.account_id,
            created_at=utc_now(),
            type="GIFT_REFUND",
            credits_delta=amount,
            quantity=len(refunded),
            send_id=batch.send_id,
            credits_after=after.credits,
        )
        return after, (entry,)

    def deliver(
        self, worker: BatchWorker, send: SendItem, batch_no: int, recipients: list[RecipientState], batch_key: str
    ) -> dict[str, Outcome]:
        return deliver_each(worker, recipients, send, batch_no, lambda r, key: self._issue(r, send, key))

    def funded_by(
        self, reservation: Reservation, recipients: list[RecipientState], outcomes: dict[str, Outcome]
    ) -> dict[str, str]:
        return {}

    def _issue(self, recipient: RecipientState, send: SendItem, idempotency_key: str) -> Outcome:
        result = self.provider.issue(
            IssueRequest(
                idempotency_key=idempotency_key,
                gift_id=send.gift_id or "",
                phone=recipient.phone or "",
                title=send.title or "",
                content=send.content,
            )
        )
        if result.outcome is IssueOutcome.ISSUED and result.coupon_id and result.expires_on:
            return Outcome("SENT", coupon_id=result.coupon_id, expires_on=result.expires_on.isoformat())
        if result.outcome is IssueOutcome.RECIPIENT_NOT_FOUND:
            return Outcome("FAILED", "INVALID_RECIPIENT")
        return Outcome("FAILED", "GIFT_UNAVAILABLE")

    def charged_credits(self, reservation: Reservation) -> int:
        return reservation.price
