"""Invariant checks shared by the money-rule tests."""

from __future__ import annotations

from typing import Any

from shared.adapters.dynamo import DataStore
from shared.domain.sends import recipients_page


def assert_ledger_matches_balance(store: DataStore, account_id: str) -> None:
    balance = store.get_balance(account_id)
    entries = list(store.all_ledger_entries(account_id))
    assert sum(e.credits_delta for e in entries) == balance.credits
    for channel in ("sms", "lms", "email"):
        used = sum(e.notification_count or 0 for e in entries if e.notification_channel == channel)
        assert used == balance.count(channel)
    assert balance.credits >= 0
    assert min(balance.sms, balance.lms, balance.email) >= 0


def recipients_of(store: DataStore, account_id: str, send_id: str, kind: str = "GIFT") -> list[Any]:
    send = store.get_send(account_id, kind, send_id)
    assert send is not None
    found, _ = recipients_page(store, send, None, 10_000, None)
    return found


def assert_send_consistent(store: DataStore, account_id: str, send_id: str, kind: str = "GIFT") -> None:
    """Counters agree with the recipients, and every charge belongs to a SENT recipient."""
    send = store.get_send(account_id, kind, send_id)
    assert send is not None
    recipients = recipients_of(store, account_id, send_id, kind)
    counts = send.counts
    assert counts.total == len(recipients) == counts.pending + counts.sent + counts.failed
    assert counts.pending == sum(r.status == "PENDING" for r in recipients)
    assert counts.sent == sum(r.status == "SENT" for r in recipients)
    assert counts.failed == sum(r.status == "FAILED" for r in recipients)
    assert counts.resendable == sum(r.resendable for r in recipients)
    for r in recipients:
        if r.status != "SENT":
            assert r.charged == 0
        if r.reason == "INVALID_RECIPIENT":
            assert r.charged == 0 and not r.resendable
