"""The delivery-report functions as Lambda runs them: the consumer of the report queue (SES EventBridge events and
the poller's ReportMessages, a report that came too early handed back through batchItemFailures) and the poller
that queues the sandbox's due SMS reports (moto SQS and DynamoDB)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import boto3
import pytest

from functions.delivery_reports import handler as delivery_reports
from functions.report_poller import handler as report_poller
from shared.adapters.queue import ReportMessage, WorkQueue
from shared.adapters.sandbox_notifications import REPORT_DELAY, SandboxNotificationSender
from shared.adapters.ses_events import sandbox_ses_event
from shared.domain.attempts import RecipientAttempt
from shared.domain.charges import charges
from shared.domain.clock import utc_now
from shared.domain.jobs import BatchJob
from shared.domain.notifications.notification_processing import NotificationPayment
from shared.domain.notifications.notification_sends import create_notification_send
from shared.domain.notifications.sender import MessageResult, MessageStatus, NotificationMessage
from shared.domain.promotions.promotions import create_promotion
from shared.domain.sends.batch_processing import BatchWorker, process_batch
from shared.models.api import NotificationRecipientInput, NotificationSendRequest
from shared.models.common import Channel, SendKind
from shared.models.reports import DeliveryReport
from tests.integration.api_client import new_account
from tests.integration.conftest import TABLE
from tests.integration.money import assert_ledger_matches_balance, assert_send_consistent, recipients_of
from tests.lambda_events import LambdaContextStub, drain_queue, sqs_event

KIND = SendKind.NOTIFICATION


class Accepting:
    def send_batch(self, batch_key: str, messages: Sequence[NotificationMessage]) -> dict[str, MessageResult]:
        return {m.idempotency_key: MessageResult(MessageStatus.ACCEPTED, f"msg-{m.idempotency_key}") for m in messages}


class Setup:
    def __init__(self, aws: dict[str, Any], sender: Any = None) -> None:
        self.store = delivery_reports.dependencies()[0]
        self.sqs = aws["sqs"]
        self.queue_url = aws["notification_queue_url"]
        self.account_id = new_account(credits=100_000).account_id
        self.sender = sender or Accepting()
        for channel in ("sms", "email"):
            charges.buy_counts(self.store, None, self.account_id, channel, 5, 1)

    def send(self, channel: Channel, recipients: list[NotificationRecipientInput], process: bool = True) -> str:
        promotion_id = create_promotion(self.store, self.account_id, "reports").promotion_id
        request = NotificationSendRequest(
            promotion_id=promotion_id,
            channel=channel,
            title="You won" if channel == "email" else None,
            content="You won",
            recipients=recipients,
        )
        send_id = create_notification_send(
            self.store, WorkQueue(self.sqs, self.queue_url), self.account_id, request, 50
        ).send_id
        if process:
            worker = BatchWorker(store=self.store, payment=NotificationPayment(self.sender), retry_base_seconds=0)
            for message in drain_queue(self.sqs, self.queue_url):
                process_batch(worker, BatchJob.model_validate_json(message["Body"]))
        return send_id

    def recipient(self, send_id: str, n: int = 0) -> Any:
        return recipients_of(self.store, self.account_id, send_id, KIND)[n]

    def consistent(self, send_id: str) -> None:
        assert_ledger_matches_balance(self.store, self.account_id)
        assert_send_consistent(self.store, self.account_id, send_id, KIND)


def attempt(send_id: str, rid: str = "r00000") -> str:
    return RecipientAttempt(send_id, 0, rid, 0).key


def messages(*bodies: str) -> list[dict[str, Any]]:
    return [{"MessageId": f"m-{n}", "ReceiptHandle": f"h-{n}", "Body": body} for n, body in enumerate(bodies)]


def consume(*bodies: str) -> dict[str, Any]:
    return dict(delivery_reports.lambda_handler(sqs_event(messages(*bodies)), LambdaContextStub()))


@pytest.fixture
def setup(aws: dict[str, Any]) -> Setup:
    return Setup(aws)


def test_an_ses_event_and_a_report_message_are_applied(setup: Setup) -> None:
    mail = setup.send("email", [NotificationRecipientInput(email="kim@example.com")])
    text = setup.send("sms", [NotificationRecipientInput(phone="010-7300-0001")])
    at = utc_now()
    bounce = sandbox_ses_event(attempt(mail), "ses-1", "RECIPIENT_NOT_FOUND", at)
    delivered = DeliveryReport(attempt=attempt(text), outcome="DELIVERED", occurred_at=at, provider="sandbox")

    assert consume(json.dumps(bounce), ReportMessage(reports=[delivered]).model_dump_json()) == {
        "batchItemFailures": []
    }

    bounced = setup.recipient(mail)
    assert (bounced.status, bounced.reason, bounced.resendable) == ("FAILED", "INVALID_RECIPIENT", False)
    assert setup.recipient(text).delivered_at == at
    balance = setup.store.get_balance(setup.account_id)
    assert (balance.email, balance.sms) == (5, 4)  # the bounced email's count came back
    setup.consistent(mail)
    setup.consistent(text)
    # SQS delivers a message again: nothing more happens.
    assert consume(json.dumps(bounce)) == {"batchItemFailures": []}
    assert setup.store.get_balance(setup.account_id).email == 5


def test_a_report_that_came_too_early_is_handed_back_and_applied_later(setup: Setup) -> None:
    early = setup.send("sms", [NotificationRecipientInput(phone="010-7300-0002")], process=False)
    ready = setup.send("email", [NotificationRecipientInput(email="lee@example.com")], process=False)
    jobs = drain_queue(setup.sqs, setup.queue_url)
    worker = BatchWorker(store=setup.store, payment=NotificationPayment(setup.sender), retry_base_seconds=0)
    ready_job = next(m for m in jobs if ready in m["Body"])
    process_batch(worker, BatchJob.model_validate_json(ready_job["Body"]))
    too_early = ReportMessage(
        reports=[DeliveryReport(attempt=attempt(early), outcome="UNDELIVERED", occurred_at=utc_now(), provider="x")]
    ).model_dump_json()
    delivered = json.dumps(sandbox_ses_event(attempt(ready), "ses-2", "DELIVERED", utc_now()))

    assert consume(delivered, too_early) == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert setup.recipient(ready).delivered_at is not None
    assert setup.recipient(early).status == "PENDING"

    for job in jobs:
        if early in job["Body"]:
            process_batch(worker, BatchJob.model_validate_json(job["Body"]))
    assert consume(too_early) == {"batchItemFailures": []}
    assert (setup.recipient(early).status, setup.recipient(early).reason) == ("FAILED", "PROVIDER_ERROR")
    setup.consistent(early)


def test_events_that_settle_nothing_are_taken_and_malformed_ones_kept(setup: Setup) -> None:
    mail = setup.send("email", [NotificationRecipientInput(email="park@example.com")])
    other_source = {"source": "aws.s3", "detail-type": "Object Created", "detail": {}}
    foreign = sandbox_ses_event("not-an-attempt-of-ours", "ses-3", "RECIPIENT_NOT_FOUND", utc_now())
    malformed = {"source": "aws.ses", "detail-type": "Email Bounced", "detail": {"eventType": "Bounce"}}

    assert consume(json.dumps(other_source), json.dumps(foreign), json.dumps(malformed)) == {
        "batchItemFailures": [{"itemIdentifier": "m-2"}]
    }
    assert setup.recipient(mail).status == "SENT"


def test_the_poller_queues_the_sandbox_due_sms_reports(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    report_queue = aws["sqs"].create_queue(QueueName="delivery-reports")["QueueUrl"]
    monkeypatch.setenv("DELIVERY_REPORT_QUEUE_URL", report_queue)
    client = boto3.client("dynamodb")
    setup = Setup(aws, SandboxNotificationSender(Accepting(), client, TABLE, lambda events: None))
    phones = ["010-7300-0003", "010-1234-7777", "010-1234-6666", "010-1234-0000"]
    send_id = setup.send("sms", [NotificationRecipientInput(phone=p) for p in phones])

    def poll_at(offset: timedelta) -> dict[str, int]:
        monkeypatch.setattr(report_poller, "utc_now", lambda: utc_now() + offset)
        return report_poller.lambda_handler({}, LambdaContextStub())

    assert poll_at(timedelta(seconds=1)) == {"published": 0}
    assert poll_at(REPORT_DELAY + timedelta(seconds=2)) == {"published": 3}
    assert poll_at(REPORT_DELAY + timedelta(seconds=3)) == {"published": 0}

    queued = drain_queue(aws["sqs"], report_queue)
    assert len(queued) == 1  # one message carries a poll's reports
    reports = ReportMessage.model_validate_json(queued[0]["Body"]).reports
    assert sorted((r.attempt, r.outcome) for r in reports) == [
        (attempt(send_id, "r00000"), "DELIVERED"),
        (attempt(send_id, "r00001"), "RECIPIENT_NOT_FOUND"),
        (attempt(send_id, "r00002"), "UNDELIVERED"),
    ]

    assert delivery_reports.lambda_handler(sqs_event(queued), LambdaContextStub()) == {"batchItemFailures": []}
    states = [(r.status, r.reason) for r in recipients_of(setup.store, setup.account_id, send_id, KIND)]
    assert states == [
        ("SENT", None),
        ("FAILED", "INVALID_RECIPIENT"),
        ("FAILED", "PROVIDER_ERROR"),
        ("FAILED", "INVALID_RECIPIENT"),
    ]
    assert setup.store.get_balance(setup.account_id).sms == 5 - 1
    setup.consistent(send_id)
