"""Resends, drafts, cancels and the provider-error retry job (with when it will retry)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest

from functions.send_gift.handler import lambda_handler as consume_gifts
from shared.adapters.gift_provider import SandboxGiftProvider
from shared.adapters.queue import WorkQueue
from shared.adapters.store import DataStore
from shared.domain.clock import to_rfc3339, utc_now
from shared.domain.gifts.gift_processing import GiftPayment
from shared.domain.gifts.provider import IssueRequest, IssueResult
from shared.domain.jobs import BatchJob
from shared.domain.sends import send_actions
from shared.domain.sends.batch_processing import BatchWorker, process_batch
from shared.errors import InvalidState, ProviderUnavailable
from shared.models.common import SendKind
from tests.integration.api_client import ADMIN, ApiClient, new_account
from tests.integration.conftest import TABLE
from tests.integration.money import assert_ledger_matches_balance, assert_send_consistent, recipients_of
from tests.lambda_events import LambdaContextStub, drain_queue, sqs_event

COFFEE = 4_500


def _store() -> DataStore:
    return DataStore(boto3.client("dynamodb"), TABLE)


@pytest.fixture
def catalog(aws: dict[str, Any]) -> None:
    assert ADMIN.post("/admin/catalog/sync").status == 200


def _gift_send(client: ApiClient, phones: list[str], **extra: Any) -> dict[str, Any]:
    promotion = client.post("/promotions", {"name": "p"}).body["promotion_id"]
    reply = client.post(
        "/gift-sends",
        {
            "promotion_id": promotion,
            "gift_id": "SBX-COFFEE",
            "title": "t",
            "content": "c",
            "recipients": [{"phone": p} for p in phones],
            **extra,
        },
    )
    assert reply.status == 202, reply.body
    return dict(reply.body)


def _run_gift_queue(aws: dict[str, Any]) -> None:
    messages = drain_queue(aws["sqs"], aws["queue_url"])
    if messages:
        consume_gifts(sqs_event(messages), LambdaContextStub())


def test_top_up_then_bulk_resend_sends_everyone(aws: dict[str, Any], catalog: None) -> None:
    client = new_account(credits=3 * COFFEE)
    send_id = _gift_send(client, [f"010-1000-{i:04d}" for i in range(1, 8)])["send_id"]
    _run_gift_queue(aws)
    assert client.get(f"/gift-sends/{send_id}").body["counts"]["resendable"] == 4

    ADMIN.post(f"/admin/accounts/{client.account_id}/credits", {"amount": 4 * COFFEE, "reference": "topup-2"})
    reply = client.post(f"/gift-sends/{send_id}/resend")
    assert (reply.status, reply.body) == (202, {"resent": 4})
    assert client.get(f"/gift-sends/{send_id}").body["counts"]["pending"] == 4
    _run_gift_queue(aws)

    view = client.get(f"/gift-sends/{send_id}").body
    assert view["counts"] == {"total": 7, "pending": 0, "sent": 7, "failed": 0, "resendable": 0}
    assert client.get("/account").body["credits"] == 0
    assert_ledger_matches_balance(_store(), client.account_id)
    assert_send_consistent(_store(), client.account_id, send_id)
    assert client.post(f"/gift-sends/{send_id}/resend").body == {"resent": 0}


def test_single_recipient_resend(aws: dict[str, Any], catalog: None) -> None:
    client = new_account(credits=COFFEE)
    send_id = _gift_send(client, ["010-2000-0001", "010-2000-0002", "bad-phone"])["send_id"]
    _run_gift_queue(aws)
    by_phone = {r["phone"]: r for r in client.get(f"/gift-sends/{send_id}/recipients").body["items"]}
    short = by_phone["+821020000002"]
    invalid = by_phone["bad-phone"]
    assert short["failure_reason"] == "INSUFFICIENT_CREDITS"
    refused = client.post(f"/gift-sends/{send_id}/recipients/{invalid['recipient_id']}/resend")
    assert (refused.status, refused.body["code"]) == (409, "NOT_RESENDABLE")
    assert client.post(f"/gift-sends/{send_id}/recipients/r99999/resend").status == 404
    ADMIN.post(f"/admin/accounts/{client.account_id}/credits", {"amount": COFFEE, "reference": "more"})
    assert client.post(f"/gift-sends/{send_id}/recipients/{short['recipient_id']}/resend").status == 202
    _run_gift_queue(aws)
    final = {r["phone"]: r for r in client.get(f"/gift-sends/{send_id}/recipients").body["items"]}
    assert final["+821020000002"]["status"] == "SENT"
    assert final["bad-phone"]["status"] == "FAILED"
    assert_ledger_matches_balance(_store(), client.account_id)


def test_resending_the_same_failures_twice_at_once_sends_no_one_twice(aws: dict[str, Any], catalog: None) -> None:
    client = new_account(credits=0)
    send_id = _gift_send(client, ["010-3000-0001", "010-3000-0002"])["send_id"]
    _run_gift_queue(aws)
    ADMIN.post(f"/admin/accounts/{client.account_id}/credits", {"amount": 10 * COFFEE, "reference": "r"})
    queue = WorkQueue(aws["sqs"], aws["queue_url"])
    stored = _store().get_send(client.account_id, SendKind.GIFT, send_id)
    assert stored is not None
    send = stored
    second: dict[str, int] = {}

    class RacingStore(DataStore):
        def commit_settlement(self, *args: Any, **kwargs: Any) -> None:
            if not second:  # the other resend runs to completion first
                second["resent"] = send_actions.resend(_store(), queue, send)
            super().commit_settlement(*args, **kwargs)

    first = send_actions.resend(RacingStore(boto3.client("dynamodb"), TABLE), queue, send)
    assert second["resent"] + first == 2
    _run_gift_queue(aws)
    recipients = recipients_of(_store(), client.account_id, send_id)
    assert [r.status for r in recipients] == ["SENT", "SENT"]
    assert client.get("/account").body["credits"] == 8 * COFFEE
    assert_ledger_matches_balance(_store(), client.account_id)


class Outage:
    """A provider that is down until `recovered` is set, then answers like the sandbox."""

    def __init__(self) -> None:
        self.sandbox = SandboxGiftProvider(boto3.client("dynamodb"), TABLE)
        self.recovered = False

    def issue(self, request: IssueRequest) -> IssueResult:
        if not self.recovered:
            raise ProviderUnavailable("outage")
        return self.sandbox.issue(request)

    def catalog(self) -> list[Any]:
        return self.sandbox.catalog()


def _queues(aws: dict[str, Any]) -> dict[SendKind, WorkQueue]:
    return {
        SendKind.GIFT: WorkQueue(aws["sqs"], aws["queue_url"]),
        SendKind.NOTIFICATION: WorkQueue(aws["sqs"], aws["notification_queue_url"]),
    }


def test_retry_job_heals_a_provider_outage(aws: dict[str, Any], catalog: None) -> None:
    client = new_account(credits=10 * COFFEE)
    send_id = _gift_send(client, ["010-4000-0001", "010-4000-0002"])["send_id"]
    outage = Outage()
    worker = BatchWorker(store=_store(), payment=GiftPayment(outage), retry_base_seconds=0, concurrency=1)
    (message,) = drain_queue(aws["sqs"], aws["queue_url"])
    process_batch(worker, BatchJob.model_validate_json(message["Body"]))
    assert client.get(f"/gift-sends/{send_id}").body["counts"]["resendable"] == 2
    assert client.get("/account").body["credits"] == 10 * COFFEE  # provider errors are refunded

    store = _store()
    assert send_actions.retry_provider_errors(store, _queues(aws), utc_now(), 3) == 0  # backoff not over
    outage.recovered = True
    assert send_actions.retry_provider_errors(store, _queues(aws), utc_now() + timedelta(minutes=2), 3) == 2
    (message,) = drain_queue(aws["sqs"], aws["queue_url"])
    process_batch(worker, BatchJob.model_validate_json(message["Body"]))

    recipients = recipients_of(store, client.account_id, send_id)
    assert [(r.status, r.attempts, r.round) for r in recipients] == [("SENT", 4, 1), ("SENT", 4, 1)]
    assert client.get("/account").body["credits"] == 8 * COFFEE
    assert_ledger_matches_balance(store, client.account_id)
    assert_send_consistent(store, client.account_id, send_id)


def test_retry_job_gives_up_after_the_bounded_rounds(aws: dict[str, Any], catalog: None) -> None:
    client = new_account(credits=10 * COFFEE)
    send_id = _gift_send(client, ["010-5000-0001"])["send_id"]
    worker = BatchWorker(
        store=_store(), payment=GiftPayment(Outage()), retry_base_seconds=0, concurrency=1, auto_retry_rounds=2
    )
    later = utc_now()
    for _ in range(5):
        for message in drain_queue(aws["sqs"], aws["queue_url"]):
            process_batch(worker, BatchJob.model_validate_json(message["Body"]))
        later += timedelta(hours=1)
        send_actions.retry_provider_errors(_store(), _queues(aws), later, 2)
    (recipient,) = recipients_of(_store(), client.account_id, send_id)
    assert (recipient.status, recipient.reason, recipient.round, recipient.attempts) == (
        "FAILED",
        "PROVIDER_ERROR",
        2,
        9,
    )
    assert _store().batches_due_for_retry(later + timedelta(days=1)) == []
    assert recipient.resendable  # a person can still resend it


def test_draft_waits_for_submit(aws: dict[str, Any], catalog: None) -> None:
    client = new_account(credits=10 * COFFEE)
    send = _gift_send(client, ["010-6000-0001"], draft=True)
    assert send["status"] == "DRAFT"
    assert drain_queue(aws["sqs"], aws["queue_url"]) == []
    submitted = client.post(f"/gift-sends/{send['send_id']}/submit")
    assert (submitted.status, submitted.body["status"]) == (200, "QUEUED")
    assert len(drain_queue(aws["sqs"], aws["queue_url"])) == 1
    again = client.post(f"/gift-sends/{send['send_id']}/submit")
    assert (again.status, again.body["code"]) == (409, "INVALID_STATE")
    assert client.post(f"/gift-sends/{send['send_id']}/cancel").status == 409


def test_cancelled_scheduled_send_is_never_charged(aws: dict[str, Any], catalog: None) -> None:
    from shared.adapters.store import DispatchIndex
    from shared.domain.sends.dispatch import dispatch_due_sends

    client = new_account(credits=10 * COFFEE)
    send = _gift_send(client, ["010-7000-0001"], send_at=to_rfc3339(utc_now() + timedelta(minutes=5)))
    cancelled = client.post(f"/gift-sends/{send['send_id']}/cancel")
    assert (cancelled.status, cancelled.body["status"]) == (200, "CANCELLED")
    store = _store()
    index = DispatchIndex(boto3.client("dynamodb"), TABLE)
    assert dispatch_due_sends(store, index, _queues(aws), utc_now() + timedelta(minutes=10)) == 0
    assert drain_queue(aws["sqs"], aws["queue_url"]) == []
    assert client.get("/account").body["credits"] == 10 * COFFEE
    assert client.post(f"/gift-sends/{send['send_id']}/submit").status == 409


def test_a_draft_with_a_future_send_at_becomes_scheduled(aws: dict[str, Any], catalog: None) -> None:
    client = new_account(credits=10 * COFFEE)
    send = _gift_send(client, ["010-8000-0001"], draft=True, send_at=to_rfc3339(utc_now() + timedelta(minutes=5)))
    assert client.post(f"/gift-sends/{send['send_id']}/submit").body["status"] == "SCHEDULED"
    assert drain_queue(aws["sqs"], aws["queue_url"]) == []


def test_notification_resend_can_be_narrowed_by_channel(aws: dict[str, Any]) -> None:
    from functions.send_notification.handler import lambda_handler as consume_notifications

    client = new_account(credits=10_000)
    promotion = client.post("/promotions", {"name": "p"}).body["promotion_id"]
    reply = client.post(
        "/notification-sends",
        {
            "promotion_id": promotion,
            "channel": "auto",
            "content": "hi {name}",
            "recipients": [{"phone": "010-9000-0001", "name": "a"}, {"phone": "010-9000-0002", "name": "가" * 50}],
        },
    )
    send_id = reply.body["send_id"]
    consume_notifications(sqs_event(drain_queue(aws["sqs"], aws["notification_queue_url"])), LambdaContextStub())
    assert client.get(f"/notification-sends/{send_id}").body["counts"]["resendable"] == 2  # no counts yet
    client.post("/charges", {"channel": "sms", "quantity": 1})
    assert client.post(f"/notification-sends/{send_id}/resend", {"channel": "sms"}).body == {"resent": 1}
    consume_notifications(sqs_event(drain_queue(aws["sqs"], aws["notification_queue_url"])), LambdaContextStub())
    recipients = client.get(f"/notification-sends/{send_id}/recipients").body["items"]
    assert [(r["channel"], r["status"]) for r in recipients] == [("sms", "SENT"), ("lms", "FAILED")]
    assert client.post(f"/notification-sends/{send_id}/resend", {"channel": "fax"}).status == 422


# --- v1.1: a cancelled send's recipients end FAILED / CANCELLED ---------------------------------------------


def _dispatch(aws: dict[str, Any], minutes_ahead: float) -> int:
    from shared.adapters.store import DispatchIndex
    from shared.domain.sends.dispatch import dispatch_due_sends

    index = DispatchIndex(boto3.client("dynamodb"), TABLE)
    return dispatch_due_sends(_store(), index, _queues(aws), utc_now() + timedelta(minutes=minutes_ahead))


@pytest.mark.parametrize("timing", ["draft", "scheduled"])
def test_a_cancelled_send_has_nothing_pending(aws: dict[str, Any], catalog: None, timing: str) -> None:
    client = new_account(credits=10 * COFFEE)
    extra = {"draft": True} if timing == "draft" else {"send_at": to_rfc3339(utc_now() + timedelta(minutes=5))}
    phones = [f"010-7100-{i:04d}" for i in range(1, 7)] + ["bad-phone"]  # two batches of five
    send_id = _gift_send(client, phones, **extra)["send_id"]

    cancelled = client.post(f"/gift-sends/{send_id}/cancel")
    assert (cancelled.status, cancelled.body["status"]) == (200, "CANCELLED")
    assert cancelled.body["counts"] == {"total": 7, "pending": 0, "sent": 0, "failed": 7, "resendable": 0}
    assert client.get(f"/gift-sends/{send_id}").body == cancelled.body
    recipients = client.get(f"/gift-sends/{send_id}/recipients").body["items"]
    reasons = [(r["status"], r["failure_reason"], r["resendable"], r["charged_credits"]) for r in recipients]
    assert reasons == [("FAILED", "CANCELLED", False, 0)] * 6 + [("FAILED", "INVALID_RECIPIENT", False, 0)]
    assert client.get(f"/gift-sends/{send_id}/recipients", query={"status": "PENDING"}).body["items"] == []

    refused = client.post(f"/gift-sends/{send_id}/recipients/{recipients[0]['recipient_id']}/resend")
    assert (refused.status, refused.body["code"]) == (409, "INVALID_STATE")
    assert client.post(f"/gift-sends/{send_id}/resend").status == 409
    assert _dispatch(aws, 10) == 0
    assert drain_queue(aws["sqs"], aws["queue_url"]) == []
    assert client.get("/account").body["credits"] == 10 * COFFEE
    assert_send_consistent(_store(), client.account_id, send_id)


def test_cancel_loses_to_a_dispatch_that_started_the_send_first(aws: dict[str, Any], catalog: None) -> None:
    client = new_account(credits=10 * COFFEE)
    send_at = utc_now() + timedelta(minutes=5)
    send_id = _gift_send(client, ["010-7200-0001"], send_at=to_rfc3339(send_at))["send_id"]
    stored = _store().get_send(client.account_id, SendKind.GIFT, send_id)
    assert stored is not None

    class DispatchedMeanwhile(DataStore):
        def change_send_status(self, send: Any, *args: Any, **kwargs: Any) -> bool:
            assert _dispatch(aws, 10) == 1  # the dispatcher starts it between the cancel's read and write
            return super().change_send_status(send, *args, **kwargs)

    with pytest.raises(InvalidState):
        send_actions.cancel(
            DispatchedMeanwhile(boto3.client("dynamodb"), TABLE), client.account_id, SendKind.GIFT, send_id
        )
    _run_gift_queue(aws)
    view = client.get(f"/gift-sends/{send_id}").body
    assert (view["status"], view["counts"]["sent"]) == ("COMPLETED", 1)
    assert client.get("/account").body["credits"] == 9 * COFFEE


def test_a_dispatch_after_the_cancel_does_not_start_the_send(aws: dict[str, Any], catalog: None) -> None:
    client = new_account(credits=10 * COFFEE)
    send_id = _gift_send(client, ["010-7300-0001"], send_at=to_rfc3339(utc_now() + timedelta(minutes=5)))["send_id"]
    scheduled = _store().get_send(client.account_id, SendKind.GIFT, send_id)
    assert scheduled is not None
    assert client.post(f"/gift-sends/{send_id}/cancel").status == 200
    # A dispatcher that read the index before the cancel still holds the SCHEDULED send: its write must lose.
    assert not _store().change_send_status(scheduled, ("SCHEDULED",), "QUEUED", None)
    assert client.get(f"/gift-sends/{send_id}").body["status"] == "CANCELLED"


def test_a_cancel_that_dies_half_way_is_finished_by_the_dispatcher(aws: dict[str, Any], catalog: None) -> None:
    client = new_account(credits=10 * COFFEE)
    phones = [f"010-7400-{i:04d}" for i in range(1, 8)]  # two batches
    send_id = _gift_send(client, phones, draft=True)["send_id"]

    class DiesAfterOneBatch(DataStore):
        closed = 0

        def commit_settlement(self, *args: Any, **kwargs: Any) -> None:
            if self.closed:
                raise RuntimeError("Lambda timed out")
            super().commit_settlement(*args, **kwargs)
            self.closed += 1

    with pytest.raises(RuntimeError):
        send_actions.cancel(
            DiesAfterOneBatch(boto3.client("dynamodb"), TABLE), client.account_id, SendKind.GIFT, send_id
        )
    half = client.get(f"/gift-sends/{send_id}").body
    assert (half["status"], half["counts"]["pending"], half["counts"]["failed"]) == ("CANCELLED", 2, 5)

    assert _dispatch(aws, 0) == 0  # within the grace the cancel may still be finishing
    assert client.get(f"/gift-sends/{send_id}").body["counts"]["pending"] == 2
    assert _dispatch(aws, 3) == 0  # closes the rest; nothing is dispatched
    final = client.get(f"/gift-sends/{send_id}").body
    assert final["counts"] == {"total": 7, "pending": 0, "sent": 0, "failed": 7, "resendable": 0}
    assert drain_queue(aws["sqs"], aws["queue_url"]) == []
    assert_send_consistent(_store(), client.account_id, send_id)


def test_cancelled_notification_recipients_use_no_counts(aws: dict[str, Any]) -> None:
    client = new_account(credits=1_000)
    client.post("/charges", {"channel": "sms", "quantity": 2})
    promotion = client.post("/promotions", {"name": "p"}).body["promotion_id"]
    send_id = client.post(
        "/notification-sends",
        {
            "promotion_id": promotion,
            "channel": "sms",
            "content": "hi",
            "draft": True,
            "recipients": [{"phone": "010-7500-0001"}, {"phone": "010-7500-0002"}],
        },
    ).body["send_id"]
    cancelled = client.post(f"/notification-sends/{send_id}/cancel").body
    assert (cancelled["status"], cancelled["counts"]["pending"], cancelled["counts"]["failed"]) == ("CANCELLED", 0, 2)
    recipients = client.get(f"/notification-sends/{send_id}/recipients").body["items"]
    assert {(r["status"], r["failure_reason"], r["resendable"], r["next_retry_at"]) for r in recipients} == {
        ("FAILED", "CANCELLED", False, None)
    }
    assert client.get("/account").body["notification_balance"]["sms"] == 2
    assert_send_consistent(_store(), client.account_id, send_id, SendKind.NOTIFICATION)


# --- v1.1: next_retry_at, and a send waiting for automatic retries is PROCESSING ------------------------------


def _retries(client: ApiClient, send_id: str) -> list[tuple[str, str | None, datetime | None]]:
    items = client.get(f"/gift-sends/{send_id}/recipients").body["items"]
    return [
        (r["status"], r["failure_reason"], r["next_retry_at"] and datetime.fromisoformat(r["next_retry_at"]))
        for r in items
    ]


def test_next_retry_at_follows_the_automatic_retry_schedule(aws: dict[str, Any], catalog: None) -> None:
    client = new_account(credits=10 * COFFEE)
    send_id = _gift_send(client, ["010-7600-0001", "010-7600-0002"])["send_id"]
    worker = BatchWorker(
        store=_store(),
        payment=GiftPayment(Outage()),
        retry_base_seconds=0,
        concurrency=1,
        auto_retry_rounds=2,
        auto_retry_base_seconds=60,
    )

    def process() -> datetime:
        before = utc_now()
        for message in drain_queue(aws["sqs"], aws["queue_url"]):
            process_batch(worker, BatchJob.model_validate_json(message["Body"]))
        return before

    started = process()
    view = client.get(f"/gift-sends/{send_id}").body
    assert (view["status"], view["counts"]["pending"], view["counts"]["failed"]) == ("PROCESSING", 0, 2)
    first = _retries(client, send_id)
    for status, reason, retry_at in first:
        assert (status, reason) == ("FAILED", "PROVIDER_ERROR")
        assert retry_at is not None and started + timedelta(seconds=60) <= retry_at <= utc_now() + timedelta(
            seconds=60
        )  # round 0: base seconds after it failed

    # Not due before its time; at its time the retry job resends it and the next round waits twice as long.
    due = max(retry_at for _, _, retry_at in first if retry_at)
    assert send_actions.retry_provider_errors(_store(), _queues(aws), due - timedelta(minutes=1), 2) == 0
    assert send_actions.retry_provider_errors(_store(), _queues(aws), due, 2) == 2
    assert [r[:2] for r in _retries(client, send_id)] == [("PENDING", None)] * 2
    assert all(r[2] is None for r in _retries(client, send_id))
    started = process()
    second = _retries(client, send_id)
    assert all(r[2] is not None and r[2] >= started + timedelta(seconds=120) for r in second)
    assert client.get(f"/gift-sends/{send_id}").body["status"] == "PROCESSING"

    # The last round: no automatic retry left, so the send is finished.
    assert send_actions.retry_provider_errors(_store(), _queues(aws), utc_now() + timedelta(hours=1), 2) == 2
    process()
    assert _retries(client, send_id) == [("FAILED", "PROVIDER_ERROR", None)] * 2
    final = client.get(f"/gift-sends/{send_id}").body
    assert (final["status"], final["counts"]["resendable"]) == ("COMPLETED", 2)
    assert_send_consistent(_store(), client.account_id, send_id)


def test_a_manual_resend_clears_the_automatic_retry(aws: dict[str, Any], catalog: None) -> None:
    client = new_account(credits=10 * COFFEE)
    send_id = _gift_send(client, ["010-7700-0001", "010-7700-0002"])["send_id"]
    outage = Outage()
    worker = BatchWorker(store=_store(), payment=GiftPayment(outage), retry_base_seconds=0, concurrency=1)
    for message in drain_queue(aws["sqs"], aws["queue_url"]):
        process_batch(worker, BatchJob.model_validate_json(message["Body"]))
    first, _second = client.get(f"/gift-sends/{send_id}/recipients").body["items"]
    outage.recovered = True
    assert client.post(f"/gift-sends/{send_id}/recipients/{first['recipient_id']}/resend").status == 202
    for message in drain_queue(aws["sqs"], aws["queue_url"]):
        process_batch(worker, BatchJob.model_validate_json(message["Body"]))
    statuses = [(s, retry_at is not None) for s, _, retry_at in _retries(client, send_id)]
    assert statuses == [("SENT", False), ("FAILED", True)]  # the other one still waits for its retry
    assert client.get(f"/gift-sends/{send_id}").body["status"] == "PROCESSING"
    assert [b.batch_no for b in _store().batches_due_for_retry(utc_now() + timedelta(hours=1))] == [0]
    assert_send_consistent(_store(), client.account_id, send_id)
