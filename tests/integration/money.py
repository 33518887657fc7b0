"""Invariant checks shared by the money-rule tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import boto3

from shared.adapters.queue import WorkQueue
from shared.adapters.store import DataStore
from shared.domain.events.alerts import Publisher
from shared.domain.jobs import BatchJob
from shared.domain.notifications.notification_processing import NotificationPayment
from shared.domain.notifications.notification_sends import create_notification_send
from shared.domain.notifications.sender import MessageResult, MessageStatus, NotificationMessage
from shared.domain.promotions.promotions import create_promotion
from shared.domain.sends.batch_processing import BatchWorker, process_batch
from shared.domain.sends.sends import recipients_page
from shared.models.api import NotificationRecipientInput, NotificationSendRequest
from shared.models.common import Channel, SendKind
from tests.lambda_events import drain_queue


def assert_ledger_matches_balance(store: DataStore, account_id: str) -> None:
    balance = store.get_balance(account_id)
    entries = list(store.all_ledger_entries(account_id))
    assert sum(e.credits_delta for e in entries) == balance.credits
    for channel in ("sms", "lms", "email"):
        used = sum(e.notification_count or 0 for e in entries if e.notification_channel == channel)
        assert used == balance.count(channel)
    assert balance.credits >= 0
    assert min(balance.sms, balance.lms, balance.email) >= 0


def recipients_of(store: DataStore, account_id: str, send_id: str, kind: SendKind = SendKind.GIFT) -> list[Any]:
    send = store.get_send(account_id, kind, send_id)
    assert send is not None
    found, _ = recipients_page(store, send, None, 10_000, None)
    return found


def assert_send_consistent(store: DataStore, account_id: str, send_id: str, kind: SendKind = SendKind.GIFT) -> None:
    """Counters (retries waiting included) agree with the recipients, and every charge belongs to a SENT recipient."""
    send = store.get_send(account_id, kind, send_id)
    assert send is not None
    recipients = recipients_of(store, account_id, send_id, kind)
    counts = send.counts
    assert counts.total == len(recipients) == counts.pending + counts.sent + counts.failed
    assert counts.pending == sum(r.status == "PENDING" for r in recipients)
    assert counts.sent == sum(r.status == "SENT" for r in recipients)
    assert counts.failed == sum(r.status == "FAILED" for r in recipients)
    assert counts.resendable == sum(r.resendable for r in recipients)
    assert counts.retrying == sum(r.retry_at is not None for r in recipients)
    for r in recipients:
        if r.status != "SENT":
            assert r.charged == 0
        if r.reason == "INVALID_RECIPIENT":
            assert r.charged == 0 and not r.resendable


class AcceptingSender:
    """A notification provider that accepts every message."""

    def send_batch(self, batch_key: str, messages: Sequence[NotificationMessage]) -> dict[str, MessageResult]:
        return {m.idempotency_key: MessageResult(MessageStatus.ACCEPTED) for m in messages}


def use_counts(
    store: DataStore,
    sqs: Any,
    queue_url: str,
    account_id: str,
    channel: Channel,
    wanted: int,
    publisher: Publisher | None = None,
) -> int:
    """Uses up to `wanted` counts of `channel` the way the product does: a notification send to `wanted`
    recipients, processed by the batch engine. Returns how many counts it used (the messages sent)."""
    promotion_id = create_promotion(store, account_id, "counts").promotion_id
    recipients = [
        NotificationRecipientInput(email=f"w{i}@example.com")
        if channel == "email"
        else NotificationRecipientInput(phone=f"010-7100-{i + 1:04d}")
        for i in range(wanted)
    ]
    request = NotificationSendRequest(
        promotion_id=promotion_id,
        channel=channel,
        content="You won",
        title="Prize" if channel == "email" else None,
        recipients=recipients,
    )
    send_id = create_notification_send(store, WorkQueue(sqs, queue_url), account_id, request, 50).send_id
    worker = BatchWorker(
        store=store, payment=NotificationPayment(AcceptingSender()), publisher=publisher, concurrency=1
    )
    for message in drain_queue(sqs, queue_url):
        process_batch(worker, BatchJob.model_validate_json(message["Body"]))
    return sum(r.status == "SENT" for r in recipients_of(store, account_id, send_id, SendKind.NOTIFICATION))


def issued_coupons(table: str, send_id: str) -> dict[str, int]:
    """Coupons the sandbox provider issued for this send, with how often each was issued."""
    items = boto3.client("dynamodb").scan(TableName=table)["Items"]
    return {
        i["coupon_id"]["S"]: int(i["issued_count"]["N"])
        for i in items
        if i["pk"]["S"].startswith(f"SANDBOX_PROVIDER#ISSUE#{send_id}-") and "coupon_id" in i
    }
