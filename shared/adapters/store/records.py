"""What every part of the store shares: the table, the balance write with its ledger entries and outbox events,
and Idempotency-Key claims."""

from __future__ import annotations

from typing import Any

from shared.adapters.store import keys
from shared.adapters.store.keys import Key
from shared.adapters.store.table import Table, dump
from shared.domain.store import BalanceChange
from shared.models.items import LedgerEntryItem, OutboxEvent


class Records:
    def __init__(self, client: Any, table_name: str) -> None:
        self._table = Table(client, table_name)

    def _claim(self, key: Key, new_id: str, expires_at: int) -> str:
        """The id bound to an Idempotency-Key: the given one if this is the first claim, else the earlier one.
        A retry after a crash thereby finishes the same send or charge instead of making another."""
        if self._table.put(key, {"claimed_id": new_id, "expires_at": expires_at}, new_only=True):
            return new_id
        claimed = self._table.get(key, consistent=True)
        assert claimed is not None  # the claim that refused this one
        return str(claimed["claimed_id"])

    def _balance_ops(self, change: BalanceChange | None) -> list[dict[str, Any]]:
        """The versioned balance write (never below zero), its ledger entries and its outbox events."""
        if change is None:
            return []
        after = change.after
        update = self._table.update_op(
            keys.balance(after.account_id),
            "SET #credits = :c, #sms = :s, #lms = :l, #email = :e, #open = :open, #version = :next",
            {
                ":c": after.credits,
                ":s": after.sms,
                ":l": after.lms,
                ":e": after.email,
                ":open": dump(after)["open_charges"],
                ":next": change.before.version + 1,
                ":expected": change.before.version,
                ":zero": 0,
            },
            names={
                "#credits": "credits",
                "#sms": "sms",
                "#lms": "lms",
                "#email": "email",
                "#version": "version",
                "#open": "open_charges",
            },
            condition="#version = :expected AND :c >= :zero AND :s >= :zero AND :l >= :zero AND :e >= :zero",
        )
        return [
            update,
            *map(self._ledger_put, (change.entry, *change.extra_entries)),
            *map(self._outbox_put, change.events),
        ]

    def _ledger_put(self, entry: LedgerEntryItem) -> dict[str, Any]:
        return self._table.put_op(keys.ledger_entry(entry.account_id, entry.entry_id), dump(entry), new_only=True)

    def _outbox_put(self, event: OutboxEvent) -> dict[str, Any]:
        due = {"gsi2pk": keys.OUTBOX, "gsi2sk": keys.outbox_due(event.created_at, event.event_id)}
        return self._table.put_op(keys.outbox(event.account_id, event.event_id), {**dump(event), **due})
