"""Buying notification counts with credits, and refunding an unused charge within seven days."""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.domain.balances import add_charge, remove_unused_charge, retry_on_conflict, unused_quantity
from shared.domain.clock import utc_now
from shared.domain.events.alerts import Publisher, balance_low_events, publish_committed
from shared.domain.sends.sends import IDEMPOTENCY_WINDOW
from shared.domain.store import BalanceChange, ChargeStore, require
from shared.errors import RefundNotAllowed
from shared.ids import new_id
from shared.models.api import ChargeRefund, ChargeView, NotificationBalance, PricingView
from shared.models.common import Channel, Page
from shared.models.items import Balance, ChargeItem, LedgerEntryItem

REFUND_WINDOW = timedelta(days=7)


def pricing(unit_credits: NotificationBalance) -> PricingView:
    return PricingView(notification_unit_credits=unit_credits)


def charge_view(charge: ChargeItem) -> ChargeView:
    return ChargeView.model_validate(charge.model_dump())


def buy_counts(
    store: ChargeStore,
    publisher: Publisher | None,
    account_id: str,
    channel: Channel,
    quantity: int,
    unit_credits: int,
    idempotency_key: str | None = None,
) -> ChargeView:
    """Credits become counts in one conditional write: credits never go negative, the channel's count
    rises by exactly `quantity`, and a CHARGE_PURCHASE entry explains it. INSUFFICIENT_CREDITS changes
    nothing."""
    now = utc_now()
    charge_id = new_id("chg")
    if idempotency_key:
        expires = int((now + IDEMPOTENCY_WINDOW).timestamp())
        charge_id = store.claim_charge_id(account_id, idempotency_key, charge_id, expires)
    cost = quantity * unit_credits
    charge = ChargeItem(
        charge_id=charge_id,
        account_id=account_id,
        channel=channel,
        quantity=quantity,
        unit_credits=unit_credits,
        credits_spent=cost,
        created_at=now,
        refundable_until=now + REFUND_WINDOW,
    )
    committed: list[BalanceChange] = []

    def attempt() -> ChargeView:
        earlier = store.get_charge(account_id, charge_id) if idempotency_key else None
        if earlier is not None:  # an earlier attempt with this key committed and died before answering
            return charge_view(earlier)
        funds = store.funds(account_id)
        before, alerts = funds.balance, funds.alerts
        after = add_charge(before, channel, charge_id, quantity, cost)
        entry = LedgerEntryItem(
            entry_id=new_id("led"),
            account_id=account_id,
            created_at=now,
            type="CHARGE_PURCHASE",
            credits_delta=-cost,
            notification_channel=channel,
            notification_count=quantity,
            quantity=quantity,
            charge_id=charge_id,
            credits_after=after.credits,
        )
        change = BalanceChange(before, after, entry, balance_low_events(before, after, alerts))
        store.commit_charge(change, charge)
        committed.append(change)
        return charge_view(charge)

    view = retry_on_conflict(attempt)
    if committed:
        publish_committed(store, publisher, committed[-1].events)
    return view


def list_charges(store: ChargeStore, account_id: str, limit: int, cursor: str | None) -> Page[ChargeView]:
    page = store.list_charges(account_id, limit, cursor)
    return Page[ChargeView](items=[charge_view(c) for c in page.items], next_cursor=page.next_cursor)


def refund_decision(charge: ChargeItem, balance: Balance, now: datetime) -> str | None:
    """Why this charge cannot be refunded now, or None when it can (the rule, in one place)."""
    if charge.status != "ACTIVE":
        return "the charge was already refunded"
    if now > charge.refundable_until:
        return "the 7-day refund window has passed"
    if unused_quantity(balance, charge.channel, charge.charge_id) != charge.quantity:
        return "some of this charge's counts have been used"
    return None


def refund_charge(store: ChargeStore, account_id: str, charge_id: str) -> ChargeRefund:
    def attempt() -> ChargeRefund:
        now = utc_now()
        current = require(store.get_charge(account_id, charge_id), "charge")
        before = store.get_balance(account_id)
        reason = refund_decision(current, before, now)
        if reason:
            raise RefundNotAllowed(reason)
        after = remove_unused_charge(before, current)
        entry = LedgerEntryItem(
            entry_id=new_id("led"),
            account_id=account_id,
            created_at=now,
            type="CHARGE_REFUND",
            credits_delta=current.credits_spent,
            notification_channel=current.channel,
            notification_count=-current.quantity,
            quantity=current.quantity,
            charge_id=charge_id,
            credits_after=after.credits,
        )
        store.commit_charge_refund(BalanceChange(before, after, entry), current)
        return ChargeRefund(charge_id=charge_id, credits_refunded=current.credits_spent)

    return retry_on_conflict(attempt)
