"""Accounts and their keys, the balance with its ledger, top-ups, charges, alerts and the outbox."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from shared.adapters.store import keys
from shared.adapters.store.records import Records
from shared.adapters.store.table import dump, plain_numbers
from shared.domain.accounts.fair_use import RequestWindow
from shared.domain.clock import to_rfc3339
from shared.domain.store import BalanceChange, Funds
from shared.errors import NotFound
from shared.models.common import Page
from shared.models.items import AccountItem, AlertSettings, Balance, ChargeItem, LedgerEntryItem, OutboxEvent


class AccountRecords(Records):
    def create_account(self, account: AccountItem, api_key_hash: str) -> None:
        account_id = account.account_id
        self._table.transact(
            [
                self._table.put_op(keys.profile(account_id), dump(account), new_only=True),
                self._table.put_op(keys.balance(account_id), dump(Balance(account_id=account_id)), new_only=True),
                self._table.put_op(keys.api_key(api_key_hash), {"account_id": account_id}, new_only=True),
            ]
        )

    def get_account(self, account_id: str) -> AccountItem | None:
        item = self._table.get(keys.profile(account_id))
        return AccountItem.model_validate(item) if item else None

    def account_id_for_key_hash(self, api_key_hash: str) -> str | None:
        item = self._table.get(keys.api_key(api_key_hash))
        return str(item["account_id"]) if item else None

    def set_gift_approval(self, account_id: str, approved: bool) -> None:
        approval = self._table.update_op(
            keys.profile(account_id),
            "SET gift_sending_approved = :a",
            {":a": approved},
            condition="attribute_exists(pk)",
        )
        if not self._table.write(approval):
            raise NotFound("account not found")

    def count_request(self, account_id: str, window: RequestWindow, limit: int) -> bool:
        """One atomic UpdateItem: ADD 1 unless the window holds `limit` already (False then, nothing written)."""
        counted = self._table.update_op(
            keys.request_window(account_id, window.start_ms),
            "ADD #n :one SET expires_at = :expires",
            {":one": 1, ":limit": limit, ":expires": window.expires_at},
            names={"#n": "requests"},
            condition="attribute_not_exists(#n) OR #n < :limit",
        )
        return self._table.write(counted)

    # --- balance, ledger, top-ups --------------------------------------------------------------

    def get_balance(self, account_id: str) -> Balance:
        item = self._table.get(keys.balance(account_id), consistent=True)
        if item is None:
            raise NotFound("account not found")
        return Balance.model_validate(item)

    def funds(self, account_id: str) -> Funds:
        """The balance and the alert thresholds, in one request."""
        found = self._table.get_many([keys.balance(account_id), keys.alerts(account_id)])
        if keys.balance(account_id) not in found:
            raise NotFound("account not found")
        alerts = found.get(keys.alerts(account_id))
        return Funds(
            Balance.model_validate(found[keys.balance(account_id)]),
            AlertSettings.model_validate(alerts) if alerts else None,
        )

    def top_up_amount(self, account_id: str, reference: str) -> int | None:
        """The amount credited under a settled top-up reference, or None when the reference is new."""
        marker = self._table.get(keys.top_up(account_id, reference), consistent=True)
        if marker is None:
            return None
        if "amount" in marker:
            return int(marker["amount"])
        # Settled before markers kept the amount: the ledger entry written with the marker has it.
        entry = self._table.get(keys.ledger_entry(account_id, str(marker["entry_id"])), consistent=True)
        return int(entry["credits_delta"]) if entry else None

    def commit_top_up(self, change: BalanceChange, reference: str) -> None:
        marker = self._table.put_op(
            keys.top_up(change.after.account_id, reference),
            {"entry_id": change.entry.entry_id, "amount": change.entry.credits_delta},
            new_only=True,
        )
        self._table.transact([*self._balance_ops(change), marker])

    def list_ledger(self, account_id: str, limit: int, cursor: str | None) -> Page[LedgerEntryItem]:
        return self._table.page(
            LedgerEntryItem, keys.account(account_id), ("begins_with", keys.LEDGER), limit=limit, cursor=cursor
        )

    def all_ledger_entries(self, account_id: str) -> Iterator[LedgerEntryItem]:
        items, _ = self._table.query(keys.account(account_id), ("begins_with", keys.LEDGER), newest_first=True)
        return (LedgerEntryItem.model_validate(i) for i in items)

    # --- charges, alerts -----------------------------------------------------------------------

    def claim_charge_id(self, account_id: str, idempotency_key: str, new_id: str, expires_at: int) -> str:
        return self._claim(keys.claim(account_id, "CHARGE", idempotency_key), new_id, expires_at)

    def commit_charge(self, change: BalanceChange, charge: ChargeItem) -> None:
        put = self._table.put_op(keys.charge(charge.account_id, charge.charge_id), dump(charge), new_only=True)
        self._table.transact([*self._balance_ops(change), put])

    def commit_charge_refund(self, change: BalanceChange, charge: ChargeItem) -> None:
        refunded = self._table.update_op(
            keys.charge(charge.account_id, charge.charge_id),
            "SET #s = :refunded",
            {":refunded": "REFUNDED", ":active": "ACTIVE"},
            names={"#s": "status"},
            condition="#s = :active",
        )
        self._table.transact([*self._balance_ops(change), refunded])

    def get_charge(self, account_id: str, charge_id: str) -> ChargeItem | None:
        item = self._table.get(keys.charge(account_id, charge_id), consistent=True)
        return ChargeItem.model_validate(item) if item else None

    def list_charges(self, account_id: str, limit: int, cursor: str | None) -> Page[ChargeItem]:
        return self._table.page(
            ChargeItem, keys.account(account_id), ("begins_with", keys.CHARGE), limit=limit, cursor=cursor
        )

    def get_alerts(self, account_id: str) -> AlertSettings | None:
        item = self._table.get(keys.alerts(account_id))
        return AlertSettings.model_validate(item) if item else None

    def put_alerts(self, account_id: str, alerts: AlertSettings) -> None:
        self._table.put(keys.alerts(account_id), dump(alerts))

    # --- outbox --------------------------------------------------------------------------------

    def delete_outbox(self, events: Sequence[OutboxEvent]) -> None:
        self._table.batch_delete(keys.outbox(e.account_id, e.event_id) for e in events)

    def stale_outbox(self, older_than: datetime, limit: int = 100) -> list[OutboxEvent]:
        """Events whose publisher died after its transaction committed (found through the sparse gsi2)."""
        items, _ = self._table.query(keys.OUTBOX, ("<", to_rfc3339(older_than)), index="gsi2", limit=limit)
        # The detail is a free-form map: its numbers come back as Decimals, which the publisher's JSON cannot take.
        return [OutboxEvent.model_validate({**i, "detail": plain_numbers(i["detail"])}) for i in items]
