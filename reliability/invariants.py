"""The contract's invariants, checked over one account's stored state through the product's own reads.

1. credits and counts never go below zero; 2. the ledger sums to the balance (credits, and counts per channel with
the NOTIFICATION_REFUND entries of delivery reports); 3. one debit per issued gift and one count per message sent,
per account and per send; 4. no recipient is lost and every send's counters agree with its recipients; 5. an
INVALID_RECIPIENT recipient, at send or by a later report, costs nothing; 6. per channel, the balance's count is
what its open charges have left (the Balance model's own rule), and no charge has more left than it was bought
with; 7. a delivery time is only ever on a SENT recipient (a report never turns a delivered message into a
failure).

Used after every fault-injection scenario (reliability/faults.py) and after every step of the model-based test
(reliability/model.py). What needs the history of a run (a report changing a recipient at most once) is checked
by those harnesses themselves."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from shared.adapters.store import DataStore, keys
from shared.models.common import Channel, SendKind
from shared.models.items import Balance, BatchItem, ChargeItem, LedgerEntryItem, SendItem

CHANNELS: tuple[Channel, ...] = ("sms", "lms", "email")
# A send in these states has nothing queued on purpose: its recipients stay PENDING until it is sent. (A
# cancelled one has none pending: they are FAILED / CANCELLED.)
NOT_STARTED = frozenset({"DRAFT", "SCHEDULED"})


@dataclass
class AccountState:
    """What the invariants look at: one account's balance, ledger, charges, and sends with their batches."""

    balance: Balance
    entries: list[LedgerEntryItem]
    sends: list[tuple[SendItem, list[BatchItem]]]
    charges: list[ChargeItem] = field(default_factory=list)


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
    charges: list[ChargeItem] = []
    cursor = None
    while True:
        charge_page = store.list_charges(account_id, 100, cursor)
        charges.extend(charge_page.items)
        cursor = charge_page.next_cursor
        if not cursor:
            break
    return AccountState(store.get_balance(account_id), list(store.all_ledger_entries(account_id)), sends, charges)


def state_from_items(items: Iterable[dict[str, Any]], account_id: str) -> AccountState:
    """The account's state from plain table items (a scan, or a local table's memory), in key order."""
    pk = keys.account(account_id)
    rows = sorted(items, key=lambda item: (item["pk"], item["sk"]))
    own = [row for row in rows if row["pk"] == pk]
    balance = next(Balance.model_validate(row) for row in own if (row["pk"], row["sk"]) == keys.balance(account_id))
    entries = [LedgerEntryItem.model_validate(row) for row in own if row["sk"].startswith(keys.LEDGER)]
    charges = [ChargeItem.model_validate(row) for row in own if row["sk"].startswith(keys.CHARGE)]
    sends = []
    for row in own:
        if row["sk"].startswith(tuple(keys.sends(kind) for kind in SendKind)):
            send = SendItem.model_validate(row)
            batch_pk = keys.batch(send.send_id, 0)[0]
            sends.append((send, [BatchItem.model_validate(b) for b in rows if b["pk"] == batch_pk]))
    return AccountState(balance, entries, sends, charges)


def check_invariants(store: DataStore, account_id: str, *, work_queued: bool = False) -> list[str]:
    """The violations found (empty when all hold). `work_queued`: batch jobs are still waiting in a queue,
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
    # Per send as well: a count that came back twice (a report applied twice) cannot hide behind another send.
    for send, batches in stored:
        if send.kind != SendKind.NOTIFICATION:
            continue
        used = -sum(
            e.notification_count or 0
            for e in entries
            if e.send_id == send.send_id and e.type in ("NOTIFICATION_DEBIT", "NOTIFICATION_REFUND")
        )
        sent_here = sum(1 for b in batches for r in b.recipients if r.status == "SENT")
        if used != sent_here + sum(_reserved(b) for b in batches):
            found.append(f"3: counts used by send {send.send_id} do not match its messages sent")

    # 4. No recipient is lost.
    for send, recipients in sends:
        rids = [r.rid for r in recipients]
        if len(set(rids)) != len(rids) or send.counts.total != len(rids):
            found.append(f"4: send {send.send_id} lost or doubled a recipient")
        if send.status in NOT_STARTED or work_queued:
            continue
        if any(r.status == "PENDING" for r in recipients):
            found.append(f"4: a recipient of send {send.send_id} was left PENDING with no work queued")
    for send, recipients in sends:
        by_status = {s: sum(1 for r in recipients if r.status == s) for s in ("PENDING", "SENT", "FAILED")}
        retrying = sum(1 for r in recipients if r.retry_at is not None)
        resendable = sum(1 for r in recipients if r.resendable)
        counters = send.counts
        if (counters.pending, counters.sent, counters.failed, counters.retrying, counters.resendable) != (
            by_status["PENDING"],
            by_status["SENT"],
            by_status["FAILED"],
            retrying,
            resendable,
        ):
            found.append(f"4: the history counters of send {send.send_id} disagree with its recipients")

    # 5. INVALID_RECIPIENT never costs anything (its count came back: checked per send in 3) and is never resent.
    if any(
        r.charged or r.charge_id or r.resendable or r.status != "FAILED"
        for send, rs in sends
        for r in rs
        if r.reason == "INVALID_RECIPIENT"
    ):
        found.append("5: an invalid recipient was charged or left resendable")

    # 6. Per channel, the balance's count is what its open charges have left; none has more left than it bought.
    bought = {c.charge_id: c.quantity for c in state.charges}
    for channel in CHANNELS:
        open_charges = balance.open_for(channel)
        if sum(c.remaining for c in open_charges) != balance.count(channel):
            found.append(f"6: the open {channel} charges do not add up to the balance's count")
        if any(c.remaining > bought.get(c.charge_id, c.remaining) for c in open_charges):
            found.append(f"6: an open {channel} charge has more left than it was bought with")

    # 7. A delivery time belongs to a SENT recipient only.
    if any(r.delivered_at is not None and r.status != "SENT" for send, rs in sends for r in rs):
        found.append("7: a recipient with a delivery time is not SENT")
    return found


def _reserved(batch: BatchItem) -> int:
    """Recipients whose price or count a batch took and has not settled yet (its job is still queued)."""
    if batch.reservation is None:
        return 0
    pending = {r.rid for r in batch.recipients if r.status == "PENDING"}
    return len(pending.intersection(batch.reservation.charged))
