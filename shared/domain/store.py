"""The data store as the domain sees it: typed reads and writes of domain models, no keys. Each domain module
asks for the protocol it uses; shared.adapters.store.DataStore (DynamoDB) satisfies them all."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from shared.domain.jobs import BatchJob
from shared.errors import NotFound
from shared.models.common import Page, SendKind, StoredSendStatus
from shared.models.items import (
    AccountItem,
    AlertSettings,
    AutoNotification,
    Balance,
    BatchItem,
    ChargeItem,
    GiftItem,
    LedgerEntryItem,
    OutboxEvent,
    PromotionItem,
    RecipientState,
    Reservation,
    SendCounts,
    SendItem,
    WinnerChunk,
)

ItemT = TypeVar("ItemT")


def require(item: ItemT | None, what: str) -> ItemT:
    if item is None:
        raise NotFound(f"{what} not found")
    return item


@dataclass(frozen=True)
class BalanceChange:
    """A compare-and-set of the balance item plus the ledger entries that explain it and the events it causes."""

    before: Balance
    after: Balance
    entry: LedgerEntryItem
    events: tuple[OutboxEvent, ...] = ()
    extra_entries: tuple[LedgerEntryItem, ...] = ()  # e.g. an auto send debiting sms and lms counts at once


@dataclass(frozen=True)
class Funds:
    balance: Balance
    alerts: AlertSettings | None


@dataclass(frozen=True)
class SendContext:
    """What creating or estimating a send checks, read together (None where an item does not exist)."""

    account: AccountItem | None
    promotion: PromotionItem | None
    balance: Balance | None
    gift: GiftItem | None


@dataclass(frozen=True)
class BatchContext:
    """What processing one batch reads, in one request."""

    batch: BatchItem
    send: SendItem
    balance: Balance
    alerts: AlertSettings | None
    gift: GiftItem | None  # gift sends: the gift's catalog entry now (None if it left the catalog)
    has_webhooks: bool = False  # whether the batch's changes are told as account events


@dataclass(frozen=True)
class SendSettlement:
    """Recipients' new states with the send's counter changes, written together (see commit_settlement)."""

    recipients: list[RecipientState]
    counts_delta: SendCounts
    settled: int = 0  # recipients settled at least once more: QUEUED becomes PROCESSING
    retry_at: datetime | None = None  # when the retry job should look at this batch again
    events: tuple[OutboxEvent, ...] = ()  # the account events of this change (shared.domain.events.account_events)


class OutboxStore(Protocol):
    def delete_outbox(self, events: Sequence[OutboxEvent]) -> None: ...

    def stale_outbox(self, older_than: datetime, limit: int = ...) -> list[OutboxEvent]: ...


class AccountStore(Protocol):
    def create_account(self, account: AccountItem, api_key_hash: str) -> None: ...

    def get_account(self, account_id: str) -> AccountItem | None: ...

    def set_gift_approval(self, account_id: str, approved: bool) -> None: ...

    def get_balance(self, account_id: str) -> Balance: ...

    def top_up_amount(self, account_id: str, reference: str) -> int | None: ...

    def commit_top_up(self, change: BalanceChange, reference: str) -> None: ...

    def list_ledger(self, account_id: str, limit: int, cursor: str | None) -> Page[LedgerEntryItem]: ...


class AlertStore(Protocol):
    def get_alerts(self, account_id: str) -> AlertSettings | None: ...

    def put_alerts(self, account_id: str, alerts: AlertSettings) -> None: ...


class ChargeStore(OutboxStore, Protocol):
    def claim_charge_id(self, account_id: str, idempotency_key: str, new_id: str, expires_at: int) -> str: ...

    def funds(self, account_id: str) -> Funds: ...

    def get_balance(self, account_id: str) -> Balance: ...

    def get_charge(self, account_id: str, charge_id: str) -> ChargeItem | None: ...

    def list_charges(self, account_id: str, limit: int, cursor: str | None) -> Page[ChargeItem]: ...

    def commit_charge(self, change: BalanceChange, charge: ChargeItem) -> None: ...

    def commit_charge_refund(self, change: BalanceChange, charge: ChargeItem) -> None: ...


class CatalogStore(Protocol):
    def list_gifts(self) -> list[GiftItem]: ...

    def get_gift(self, gift_id: str) -> GiftItem | None: ...

    def put_gifts(self, gifts: Sequence[GiftItem]) -> None: ...

    def put_wish(self, account_id: str, gift_id: str, at: datetime) -> None: ...

    def delete_wish(self, account_id: str, gift_id: str) -> None: ...

    def wished_gift_ids(self, account_id: str) -> list[str]: ...


class PromotionStore(Protocol):
    def put_promotion(self, promotion: PromotionItem) -> None: ...

    def get_promotion(self, account_id: str, promotion_id: str) -> PromotionItem | None: ...

    def list_promotions(self, account_id: str, limit: int, cursor: str | None) -> Page[PromotionItem]: ...

    def set_auto_notification(self, account_id: str, promotion_id: str, settings: AutoNotification) -> None: ...


class SettlementStore(OutboxStore, Protocol):
    def get_batch(self, send_id: str, batch_no: int) -> BatchItem | None: ...

    def has_webhooks(self, account_id: str) -> bool: ...

    def commit_settlement(
        self, batch: BatchItem, settlement: SendSettlement, refund: BalanceChange | None = None
    ) -> None:
        """The batch's recipients, the send's counters and any refund, together; the batch's version must not
        have moved since it was read (else ConcurrentUpdate)."""
        ...


class SendStore(SettlementStore, Protocol):
    def claim_send_id(
        self, account_id: str, kind: SendKind, idempotency_key: str, new_id: str, expires_at: int
    ) -> str: ...

    def send_context(self, account_id: str, promotion_id: str, gift_id: str | None = None) -> SendContext: ...

    def create_send(
        self,
        send: SendItem,
        batches: Sequence[BatchItem],
        *,
        dispatch_at: datetime | None,
        events: Sequence[OutboxEvent] = (),
    ) -> int: ...

    def get_send(self, account_id: str, kind: SendKind, send_id: str) -> SendItem | None: ...

    def list_sends(
        self, account_id: str, kind: SendKind, promotion_id: str | None, limit: int, cursor: str | None
    ) -> Page[SendItem]: ...

    def change_send_status(
        self,
        send: SendItem,
        from_statuses: Sequence[StoredSendStatus],
        to_status: StoredSendStatus,
        dispatch_at: datetime | None,
    ) -> bool: ...

    def mark_dispatched(self, account_id: str, kind: SendKind, send_id: str) -> None: ...

    def batches_from(
        self, send_id: str, first_batch: int, limit: int, *, consistent: bool = False
    ) -> list[BatchItem]: ...

    def resendable_batches(self, send_id: str) -> list[int]: ...

    def batches_due_for_retry(self, now: datetime, limit: int = ...) -> list[BatchItem]: ...


class DueSends(Protocol):
    def due(self, now: datetime, limit: int = ...) -> list[SendItem]: ...


class WinnerStore(PromotionStore, SendStore, OutboxStore, Protocol):
    def record_draw(self, chunks: Sequence[WinnerChunk], event: OutboxEvent) -> None: ...

    def winner_chunks(
        self, account_id: str, promotion_id: str, *, draw_id: str = ..., from_sk: str = ..., limit: int = ...
    ) -> list[tuple[str, WinnerChunk]]: ...


class BatchStore(SettlementStore, OutboxStore, Protocol):
    def batch_context(self, job: BatchJob) -> BatchContext | None:
        """None when the send or the batch does not exist."""
        ...

    def get_balance(self, account_id: str) -> Balance: ...

    def commit_reservation(self, batch: BatchItem, reservation: Reservation, debit: BalanceChange | None) -> None:
        """Debit and reservation together; the batch's version must not have moved (else ConcurrentUpdate)."""
        ...
