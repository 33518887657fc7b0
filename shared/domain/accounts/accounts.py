"""Accounts, gift approval, settled credit top-ups and the ledger view."""

from __future__ import annotations

from shared.domain.accounts.auth import hash_api_key, new_account_key
from shared.domain.balances import retry_on_conflict
from shared.domain.clock import utc_now
from shared.domain.store import AccountStore, BalanceChange, require
from shared.errors import IdempotencyKeyReused
from shared.ids import new_id
from shared.models.api import (
    AccountCreated,
    AccountView,
    CreditsBalance,
    GiftApproval,
    LedgerEntryView,
    NotificationBalance,
    NotificationDelta,
)
from shared.models.common import Page
from shared.models.items import AccountItem, LedgerEntryItem


def create_account(store: AccountStore, name: str) -> AccountCreated:
    account = AccountItem(account_id=new_id("acc"), name=name, created_at=utc_now())
    api_key = new_account_key()
    store.create_account(account, hash_api_key(api_key))
    return AccountCreated(account_id=account.account_id, name=account.name, api_key=api_key)


def set_gift_approval(store: AccountStore, account_id: str, approved: bool) -> GiftApproval:
    store.set_gift_approval(account_id, approved)
    return GiftApproval(account_id=account_id, gift_sending_approved=approved)


def top_up_credits(store: AccountStore, account_id: str, amount: int, reference: str) -> CreditsBalance:
    """A settled credit purchase. The same reference twice credits once (the second is a no-op); a reference
    already used for another amount is refused, so a mistyped repeat cannot pass for the first."""
    require(store.get_account(account_id), "account")

    def attempt() -> CreditsBalance:
        before = store.get_balance(account_id)
        settled = store.top_up_amount(account_id, reference)
        if settled is not None and settled != amount:
            raise IdempotencyKeyReused(f"reference already used for a top-up of {settled} credits")
        if settled is not None:
            return CreditsBalance(account_id=account_id, credits=before.credits)
        after = before.model_copy(update={"credits": before.credits + amount})
        entry = LedgerEntryItem(
            entry_id=new_id("led"),
            account_id=account_id,
            created_at=utc_now(),
            type="TOP_UP",
            credits_delta=amount,
            quantity=1,
            reference=reference,
            credits_after=after.credits,
        )
        store.commit_top_up(BalanceChange(before, after, entry), reference)
        return CreditsBalance(account_id=account_id, credits=after.credits)

    return retry_on_conflict(attempt)


def account_view(store: AccountStore, account_id: str) -> AccountView:
    account = require(store.get_account(account_id), "account")
    balance = store.get_balance(account_id)
    return AccountView(
        account_id=account.account_id,
        name=account.name,
        gift_sending_approved=account.gift_sending_approved,
        credits=balance.credits,
        notification_balance=NotificationBalance(sms=balance.sms, lms=balance.lms, email=balance.email),
    )


def ledger_entry_view(entry: LedgerEntryItem) -> LedgerEntryView:
    delta = None
    if entry.notification_channel is not None:
        delta = NotificationDelta(channel=entry.notification_channel, count=entry.notification_count or 0)
    return LedgerEntryView(
        entry_id=entry.entry_id,
        created_at=entry.created_at,
        type=entry.type,
        credits_delta=entry.credits_delta,
        notification_delta=delta,
        quantity=entry.quantity,
        send_id=entry.send_id,
        charge_id=entry.charge_id,
        reference=entry.reference,
    )


def ledger_page(store: AccountStore, account_id: str, limit: int, cursor: str | None) -> Page[LedgerEntryView]:
    page = store.list_ledger(account_id, limit, cursor)
    return Page[LedgerEntryView](items=[ledger_entry_view(e) for e in page.items], next_cursor=page.next_cursor)
