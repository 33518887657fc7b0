"""Sends and their batches of recipients: creation, status changes, the batch state machine's conditional writes,
and the sparse indexes that find work without a scan."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.adapters.store import keys
from shared.adapters.store.records import Records
from shared.adapters.store.table import dump
from shared.domain.store import BalanceChange, BatchContext, SendContext, SendSettlement
from shared.errors import ConcurrentUpdate, NotFound
from shared.models.common import Page, SendKind, StoredSendStatus
from shared.models.items import (
    AccountItem,
    AlertSettings,
    Balance,
    BatchItem,
    GiftItem,
    OutboxEvent,
    PromotionItem,
    RecipientState,
    Reservation,
    SendItem,
    pack_recipients,
)

if TYPE_CHECKING:
    from shared.domain.jobs import BatchJob


def _stored_batch(batch: BatchItem) -> dict[str, Any]:
    return {**batch.model_dump(mode="json", exclude_none=True, exclude={"recipients"}),
            "recipients": pack_recipients(batch.recipients)}  # fmt: skip


class SendRecords(Records):
    def claim_send_id(self, account_id: str, kind: SendKind, idempotency_key: str, new_id: str, expires_at: int) -> str:
        return self._claim(keys.claim(account_id, f"{kind}_SEND", idempotency_key), new_id, expires_at)

    def send_context(self, account_id: str, promotion_id: str, gift_id: str | None = None) -> SendContext:
        wanted = [keys.profile(account_id), keys.promotion(account_id, promotion_id), keys.balance(account_id)]
        found = self._table.get_many([*wanted, *([keys.gift(gift_id)] if gift_id else [])])
        account, promotion, balance = (found.get(k) for k in wanted)
        gift = found.get(keys.gift(gift_id)) if gift_id else None
        return SendContext(
            account=AccountItem.model_validate(account) if account else None,
            promotion=PromotionItem.model_validate(promotion) if promotion else None,
            balance=Balance.model_validate(balance) if balance else None,
            gift=GiftItem.model_validate(gift) if gift else None,
        )

    def create_send(
        self,
        send: SendItem,
        batches: Sequence[BatchItem],
        *,
        dispatch_at: datetime | None,
        events: Sequence[OutboxEvent] = (),
    ) -> int:
        """Batches first, the send item last (with any events): a send only becomes visible (and dispatchable) once
        every recipient is durably stored. Returns the number of requests made."""
        requests = self._table.batch_put((keys.batch(b.send_id, b.batch_no), _stored_batch(b)) for b in batches)
        values = {
            **dump(send),
            "gsi1pk": keys.sends_of_promotion(send.account_id, send.kind, send.promotion_id),
            "gsi1sk": send.send_id,
        }
        if dispatch_at is not None:
            values |= {"gsi2pk": keys.DISPATCH, "gsi2sk": keys.send_due(dispatch_at, send.send_id)}
        key = keys.send(send.account_id, send.kind, send.send_id)
        if events:
            try:
                self._table.transact([self._table.put_op(key, values, new_only=True), *map(self._outbox_put, events)])
            except ConcurrentUpdate as err:
                raise ConcurrentUpdate(f"send {send.send_id} exists already") from err
        elif not self._table.put(key, values, new_only=True):
            raise ConcurrentUpdate(f"send {send.send_id} exists already")
        return requests + 1

    def get_send(self, account_id: str, kind: SendKind, send_id: str) -> SendItem | None:
        item = self._table.get(keys.send(account_id, kind, send_id), consistent=True)
        return SendItem.model_validate(item) if item else None

    def list_sends(
        self, account_id: str, kind: SendKind, promotion_id: str | None, limit: int, cursor: str | None
    ) -> Page[SendItem]:
        if promotion_id:
            return self._table.page(
                SendItem,
                keys.sends_of_promotion(account_id, kind, promotion_id),
                index="gsi1",
                limit=limit,
                cursor=cursor,
                scope={"pk": keys.account(account_id)},
            )
        return self._table.page(
            SendItem, keys.account(account_id), ("begins_with", keys.sends(kind)), limit=limit, cursor=cursor
        )

    def change_send_status(
        self,
        send: SendItem,
        from_statuses: Sequence[StoredSendStatus],
        to_status: StoredSendStatus,
        dispatch_at: datetime | None,
    ) -> bool:
        """Move a send between stored statuses if it is still in one of `from_statuses` (False if not).
        With `dispatch_at` the send (re)enters the dispatch index; without, it leaves it."""
        values: dict[str, Any] = {":to": to_status, **{f":from{i}": s for i, s in enumerate(from_statuses)}}
        update = "SET #s = :to"
        if dispatch_at is not None:
            update += ", gsi2pk = :d, gsi2sk = :due"
            values |= {":d": keys.DISPATCH, ":due": keys.send_due(dispatch_at, send.send_id)}
        else:
            update += " REMOVE gsi2pk, gsi2sk"
        change = self._table.update_op(
            keys.send(send.account_id, send.kind, send.send_id),
            update,
            values,
            names={"#s": "status"},
            condition=f"#s IN ({', '.join(f':from{i}' for i in range(len(from_statuses)))})",
        )
        return self._table.write(change)

    def mark_dispatched(self, account_id: str, kind: SendKind, send_id: str) -> None:
        self._table.write(self._table.update_op(keys.send(account_id, kind, send_id), "REMOVE gsi2pk, gsi2sk"))

    # --- batches -------------------------------------------------------------------------------

    def get_batch(self, send_id: str, batch_no: int) -> BatchItem | None:
        item = self._table.get(keys.batch(send_id, batch_no), consistent=True)
        return BatchItem.model_validate(item) if item else None

    def batches_from(self, send_id: str, first_batch: int, limit: int, *, consistent: bool = False) -> list[BatchItem]:
        partition, first = keys.batch(send_id, first_batch)
        items, _ = self._table.query(partition, (">=", first), limit=limit, consistent=consistent)
        return [BatchItem.model_validate(i) for i in items]

    def batch_context(self, job: BatchJob) -> BatchContext | None:
        """The batch, its send, the balance, alerts, webhook counter (and a gift send's gift), in one request."""
        batch, send = keys.batch(job.send_id, job.batch_no), keys.send(job.account_id, job.kind, job.send_id)
        balance, alerts = keys.balance(job.account_id), keys.alerts(job.account_id)
        gift = keys.gift(job.gift_id) if job.gift_id else None
        webhooks = keys.webhook_count(job.account_id)
        found = self._table.get_many([batch, send, balance, alerts, webhooks, *([gift] if gift else [])])
        if batch not in found or send not in found:
            return None
        if balance not in found:
            raise NotFound("account not found")
        gift_item = found.get(gift) if gift else None
        return BatchContext(
            batch=BatchItem.model_validate(found[batch]),
            send=SendItem.model_validate(found[send]),
            balance=Balance.model_validate(found[balance]),
            alerts=AlertSettings.model_validate(found[alerts]) if alerts in found else None,
            gift=GiftItem.model_validate(gift_item) if gift_item else None,
            has_webhooks=int(found.get(webhooks, {}).get("count", 0)) > 0,
        )

    def _batch_update(
        self,
        batch: BatchItem,
        recipients: list[RecipientState],
        reservation: Reservation | None,
        retry_at: datetime | None = None,
    ) -> dict[str, Any]:
        """Also keeps the batch's two sparse index entries: gsi1 while it holds resendable failures (for
        resends), gsi2 while it waits for an automatic retry (for the retry job)."""
        key = keys.batch(batch.send_id, batch.batch_no)
        values: dict[str, Any] = {
            ":expected": batch.version,
            ":next": batch.version + 1,
            ":recipients": pack_recipients(recipients),
        }
        sets = ["#version = :next", "#recipients = :recipients"]
        removes = []
        if reservation is not None:
            sets.append("#reservation = :reservation")
            values[":reservation"] = dump(reservation)
        else:
            removes.append("#reservation")
        if any(r.status == "FAILED" and r.resendable for r in recipients):
            sets += ["gsi1pk = :resendable", "gsi1sk = :batch"]
            values |= {":resendable": keys.resendable_batches(batch.send_id), ":batch": key[1]}
        else:
            removes += ["gsi1pk", "gsi1sk"]
        if retry_at is not None:
            sets += ["gsi2pk = :retry", "gsi2sk = :retry_at"]
            values |= {":retry": keys.RETRY, ":retry_at": keys.batch_retry_due(retry_at, batch.send_id, batch.batch_no)}
        else:
            removes += ["gsi2pk", "gsi2sk"]
        return self._table.update_op(
            key,
            "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else ""),
            values,
            names={"#version": "version", "#recipients": "recipients", "#reservation": "reservation"},
            condition="#version = :expected",
        )

    def commit_reservation(self, batch: BatchItem, reservation: Reservation, debit: BalanceChange | None) -> None:
        """Debit and reservation land together or not at all."""
        self._table.transact([self._batch_update(batch, batch.recipients, reservation), *self._balance_ops(debit)])

    def commit_settlement(
        self, batch: BatchItem, settlement: SendSettlement, refund: BalanceChange | None = None
    ) -> None:
        """Outcomes, the send's counters and any refund land together, exactly once per batch version."""
        self._commit(batch, settlement, refund, None)

    def _commit(
        self, batch: BatchItem, settlement: SendSettlement, refund: BalanceChange | None, keep: Reservation | None
    ) -> None:
        delta = settlement.counts_delta
        counters = self._table.update_op(
            keys.send(batch.account_id, batch.kind, batch.send_id),
            "SET #c.pending = #c.pending + :p, #c.sent = #c.sent + :s, #c.failed = #c.failed + :f, "
            "#c.resendable = #c.resendable + :r, #c.retrying = if_not_exists(#c.retrying, :zero) + :t, "
            "#processed = #processed + :n",
            {
                ":p": delta.pending,
                ":s": delta.sent,
                ":f": delta.failed,
                ":r": delta.resendable,
                ":t": delta.retrying,
                ":zero": 0,  # sends stored before the counter existed
                ":n": settlement.settled,
            },
            names={"#c": "counts", "#processed": "processed"},
        )
        self._table.transact(
            [
                self._batch_update(batch, settlement.recipients, keep, settlement.retry_at),
                counters,
                *self._balance_ops(refund),
                *map(self._outbox_put, settlement.events),
            ]
        )

    def commit_report(self, batch: BatchItem, settlement: SendSettlement, refund: BalanceChange | None) -> None:
        """A delivery report's change: like a settlement, but a reservation in progress stays as it is."""
        self._commit(batch, settlement, refund, batch.reservation)

    def announce_completion(self, send: SendItem, events: Sequence[OutboxEvent]) -> bool:
        """Marks `send` announced complete at its `processed`, with the events, only while it is still as read:
        queued, nothing pending or waiting for a retry, and this completion not announced yet."""
        update = self._table.update_op(
            keys.send(send.account_id, send.kind, send.send_id),
            "SET #announced = :p",
            {":p": send.processed, ":queued": "QUEUED", ":zero": 0},
            names={"#announced": "announced_processed", "#processed": "processed", "#c": "counts", "#s": "status"},
            condition="#s = :queued AND #processed = :p AND #c.pending = :zero "
            "AND (attribute_not_exists(#c.retrying) OR #c.retrying = :zero) "
            "AND (attribute_not_exists(#announced) OR #announced <> :p)",
        )
        try:
            self._table.transact([update, *map(self._outbox_put, events)])
        except ConcurrentUpdate:
            return False
        return True

    def resendable_batches(self, send_id: str) -> list[int]:
        """Batches of a send holding resendable failures, through the sparse gsi1 (no scan)."""
        items, _ = self._table.query(keys.resendable_batches(send_id), index="gsi1", projection="batch_no")
        return sorted(int(i["batch_no"]) for i in items)

    def batches_due_for_retry(self, now: datetime, limit: int = 100) -> list[BatchItem]:
        """Batches whose provider errors are due an automatic retry, through the sparse gsi2."""
        items, _ = self._table.query(keys.RETRY, ("<=", keys.due_by(now)), index="gsi2", limit=limit)
        return [BatchItem.model_validate(i) for i in items]


class DispatchIndex(Records):
    """The sparse index (gsi2) of sends waiting to be dispatched, ordered by when they are due."""

    def due(self, now: datetime, limit: int = 100) -> list[SendItem]:
        items, _ = self._table.query(keys.DISPATCH, ("<=", keys.due_by(now)), index="gsi2", limit=limit)
        return [SendItem.model_validate(i) for i in items]
