"""The contract's five invariants, checked over one account's stored state through the product's own reads.

Used after every fault-injection scenario (reliability/faults.py) and after every step of the model-based test
(reliability/model.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from shared.adapters.store import DataStore, keys
from shared.models.common import SendKind
from shared.models.items import Balance, BatchItem, LedgerEntryItem, SendItem

CHANNELS = ("sms", "lms", "email")
# A send in these states has nothing queued on purpose: its recipients stay PENDING until it is sent. (A
# cancelled one has none pending: they are FAILED / CANCELLED.)
NOT_STARTED = frozenset({"DRAFT", "SCHEDULED"})


@dataclass
class AccountState:
    """What the invariants look at: one account's balance, ledger, and sends with their batches."""

    balance: Balance
    entries: list[LedgerEntryItem]
    sends: list[tuple[SendItem, list[BatchItem]]]


def read_state(store: DataStore, account_id: str) -> AccountState:
    """The account's state through the product's own reads."""
    sends: list[tuple[SendItem, list[BatchItem]]] = []
    for kind in SendKind:
        cursor: str | None = None
        while True:
            page = store.list_sends(account_id, kind, None, 100, cursor)
            sends.extend((send, store.batches_from(send.send_id, 0, send.batch_count)) for send in page.items)
            cursor = page.next_cursor
            if not cursor:
                break
    return AccountState(store.get_balance(account_id), list(store.all_ledger_entries(account_id)), sends)


def state_from_items(items: Iterable[dict[str, Any]], account_id: str) -> AccountState:
    """The account's state from plain table items (a scan, or a local table's memory), in key order."""
    pk = keys.account(account_id)
    rows = sorted(items, key=lambda item: (item["pk"], item["sk"]))
    own = [row for row in rows if row["pk"] == pk]
    balance = next(Balance.model_validate(row) for row in own if (row["pk"], row["sk"]) == keys.balance(account_id))
    entries = [LedgerEntryItem.model_validate(row) for row in own if row["sk"].startswith(keys.LEDGER)]
    sends = []
    for row in own:
        if row["sk"].startswith(tuple(keys.sends(kind) for kind in SendKind)):
            send = SendItem.model_validate(row)
            batch_pk = keys.batch(send.send_id, 0)[0]
            sends.append((send, [BatchItem.model_validate(b) for b in rows if b["pk"] == batch_pk]))
    return AccountState(balance, entries, sends)


def check_invariants(store: DataStore, account_id: str, *, work_queued: bool = False) -> list[str]:
    """The violations found (empty when all five hold). `work_queued`: batch jobs are still waiting in a queue,
    so PENDING recipients of started sends are allowed."""
    return violations(read_state(store, account_id), work_queued=work_queued)


def violations(state: AccountState, *, work_queued: bool = False) -> list[str]:
    """The contract's invariants over one account's state (see check_invariants)."""
    found: list[str] = []
    balance, entries = state.balance, state.entries

    # 1. Credits and counts never go below zero.
    if balance.credits < 0 or min(balance.sms, balance.lms, balance.email) < 0:
        found.append("1: a balance went below zero")
    if any(e.credits_after is not None and e.credits_after < 0 for e in entries):
        found.append("1: a ledger entry left the credits below zero")

    # 2. Ledger sums equal balances.
    if sum(e.credits_delta for e in entries) != balance.credits:
        found.append("2: ledger credits do not sum to the balance")
    for channel in CHANNELS:
        counted = sum(e.notification_count or 0 for e in entries if e.notification_channel == channel)
        if counted != getattr(balance, channel):
            found.append(f"2: ledger {channel} counts do not sum to the balance")

    stored = state.sends
    sends = [(send, [r for batch in batches for r in batch.recipients]) for send, batches in stored]
    reserved = {
        kind: sum(_reserved(b) for send, batches in stored if send.kind == kind for b in batches) for kind in SendKind
    }
    gift_recipients = [r for send, rs in sends if send.kind == SendKind.GIFT for r in rs]
    note_recipients = [r for send, rs in sends if send.kind == SendKind.NOTIFICATION for r in rs]

    # 3. One debit per issued gift (net of refunds), one count per message sent, each gifticon issued once.
    gift_debits = sum(e.quantity for e in entries if e.type == "GIFT_DEBIT")
    gift_refunds = sum(e.quantity for e in entries if e.type == "GIFT_REFUND")
    sent_gifts = [r for r in gift_recipients if r.status == "SENT"]
    if gift_debits - gift_refunds != len(sent_gifts) + reserved[SendKind.GIFT]:
        found.append("3: gift charges do not match issued gifts")
    coupons = [r.coupon_id for r in sent_gifts]
    if len(set(coupons)) != len(coupons) or not all(coupons):
        found.append("3: a gifticon was issued twice or is missing")
    if any(r.charged > 0 and r.status == "FAILED" for r in gift_recipients):
        found.append("3: a failed gift recipient kept a charge")
    counts_used = -sum(
        e.notification_count or 0 for e in entries if e.type in ("NOTIFICATION_DEBIT", "NOTIFICATION_REFUND")
    )
    sent_notes = [r for r in note_recipients if r.status == "SENT"]
    if counts_used != len(sent_notes) + reserved[SendKind.NOTIFICATION]:
        found.append("3: counts used do not match messages sent")

    # 4. No recipient is lost.
    for send, recipients in sends:
        if send.status in NOT_STARTED or work_queued:
            continue
        if any(r.status == "PENDING" for r in recipients):
            found.append(f"4: a recipient of send {send.send_id} was left PENDING with no work queued")
        by_status = {s: sum(1 for r in recipients if r.status == s) for s in ("SENT", "FAILED")}
        retrying = sum(1 for r in recipients if r.retry_at is not None)
        if (send.counts.sent, send.counts.failed, send.counts.retrying) != (
            by_status["SENT"],
            by_status["FAILED"],
            retrying,
        ):
            found.append(f"4: the history counters of send {send.send_id} disagree with its recipients")

    # 5. INVALID_RECIPIENT never costs anything.
    if any(r.charged for send, rs in sends for r in rs if r.reason == "INVALID_RECIPIENT"):
        found.append("5: an invalid recipient was charged")
    return found


def _reserved(batch: BatchItem) -> int:
    """Recipients whose price or count a batch took and has not settled yet (its job is still queued)."""
    if batch.reservation is None:
        return 0
    pending = {r.rid for r in batch.recipients if r.status == "PENDING"}
    return len(pending.intersection(batch.reservation.charged))
