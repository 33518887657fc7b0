"""Delivery reports applied to real sends: a notification send processed by the real batch engine (a scripted
provider, or the sandbox with its own SMS reports), then ``apply_reports`` against moto DynamoDB. The money rules:
a report changes a recipient once, gives a count back to the charge that paid for it with a ledger entry, and
never touches a reservation in progress."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest

from shared.adapters.queue import WorkQueue
from shared.adapters.sandbox_notifications import REPORT_DELAY, SandboxNotificationSender, SandboxReportSource
from shared.adapters.store import DataStore
from shared.domain.attempts import RecipientAttempt
from shared.domain.charges import charges
from shared.domain.clock import utc_now
from shared.domain.jobs import BatchJob
from shared.domain.notifications.notification_processing import NotificationPayment
from shared.domain.notifications.notification_sends import create_notification_send
from shared.domain.notifications.sender import MessageResult, MessageStatus, NotificationMessage
from shared.domain.promotions.promotions import create_promotion
from shared.domain.reports.delivery_reports import ReportEffect, ReportNotReady, RetryPolicy, apply_reports
from shared.domain.sends.batch_processing import BatchWorker, process_batch
from shared.domain.sends.send_actions import resend_send
from shared.domain.views import effective_status
from shared.errors import RefundNotAllowed
from shared.models.api import NotificationRecipientInput, NotificationSendRequest
from shared.models.common import SendKind
from shared.models.items import RecipientState
from shared.models.reports import DeliveryReport, ReportOutcome
from tests.integration.api_client import new_account
from tests.integration.conftest import TABLE
from tests.integration.money import assert_ledger_matches_balance, assert_send_consistent, recipients_of
from tests.lambda_events import drain_queue

KIND = SendKind.NOTIFICATION
RETRY = RetryPolicy(rounds=3, base_seconds=60)
SMS_CREDITS = 20


class SimulatedCrash(Exception):
    """The Lambda dies here."""


class Scripted:
    """A batch provider: answers by destination (accepted unless told otherwise), recording every message."""

    def __init__(self, answers: dict[str, MessageStatus] | None = None) -> None:
        self.answers = answers or {}
        self.messages: list[NotificationMessage] = []

    def send_batch(self, batch_key: str, messages: Sequence[NotificationMessage]) -> dict[str, MessageResult]:
        self.messages += messages
        return {
            m.idempotency_key: MessageResult(self.answers.get(m.destination, MessageStatus.ACCEPTED), f"msg-{n}")
            for n, m in enumerate(messages)
        }


def phone(n: int) -> str:
    return f"010-7200-{n:04d}"


def e164(n: int) -> str:
    return f"+82107200{n:04d}"


class World:
    def __init__(self, aws: dict[str, Any], sender: Any = None) -> None:
        self.store = DataStore(boto3.client("dynamodb"), TABLE)
        self.sqs = aws["sqs"]
        self.queue_url = aws["notification_queue_url"]
        self.account_id = new_account(credits=100_000).account_id
        self.sender = sender or Scripted()

    def buy(self, quantity: int) -> str:
        return charges.buy_counts(self.store, None, self.account_id, "sms", quantity, SMS_CREDITS).charge_id

    def send(self, count: int, first: int = 1) -> str:
        promotion_id = create_promotion(self.store, self.account_id, "reports").promotion_id
        request = NotificationSendRequest(
            promotion_id=promotion_id,
            channel="sms",
            content="You won",
            recipients=[NotificationRecipientInput(phone=phone(n)) for n in range(first, first + count)],
        )
        queue = WorkQueue(self.sqs, self.queue_url)
        return create_notification_send(self.store, queue, self.account_id, request, 50).send_id

    def worker(self, **overrides: Any) -> BatchWorker:
        options: dict[str, Any] = {
            "store": self.store,
            "payment": NotificationPayment(self.sender),
            "retry_base_seconds": 0,
            "concurrency": 1,
            "sleep": lambda _: None,
        }
        return BatchWorker(**(options | overrides))

    def jobs(self) -> list[BatchJob]:
        return [BatchJob.model_validate_json(m["Body"]) for m in drain_queue(self.sqs, self.queue_url)]

    def process(self, **overrides: Any) -> None:
        for job in self.jobs():
            process_batch(self.worker(**overrides), job)

    def recipients(self, send_id: str) -> dict[str, RecipientState]:
        return {r.rid: r for r in recipients_of(self.store, self.account_id, send_id, KIND)}

    def apply(self, *reports: DeliveryReport, retry: RetryPolicy = RETRY) -> list[ReportEffect]:
        return apply_reports(self.store, reports, retry)

    def sms_count(self) -> int:
        return self.store.get_balance(self.account_id).sms

    def ledger(self) -> list[Any]:
        return sorted(e.model_dump_json() for e in self.store.all_ledger_entries(self.account_id))

    def state(self, send_id: str) -> tuple[Any, ...]:
        send = self.store.get_send(self.account_id, KIND, send_id)
        assert send is not None
        balance = self.store.get_balance(self.account_id).model_dump()
        return (
            balance,
            self.ledger(),
            send.counts.model_dump(),
            {k: v.model_dump() for k, v in self.recipients(send_id).items()},
        )

    def consistent(self, send_id: str) -> None:
        assert_ledger_matches_balance(self.store, self.account_id)
        assert_send_consistent(self.store, self.account_id, send_id, KIND)

    def used_by_charge(self, charge_id: str) -> int:
        charge = self.store.get_charge(self.account_id, charge_id)
        assert charge is not None
        open_ = {c.charge_id: c.remaining for c in self.store.get_balance(self.account_id).open_for("sms")}
        return charge.quantity - open_.get(charge_id, 0)


def report(
    send_id: str, rid: str, outcome: ReportOutcome, *, round_: int = 0, at: datetime | None = None
) -> DeliveryReport:
    return DeliveryReport(
        attempt=RecipientAttempt(send_id, 0, rid, round_).key,
        outcome=outcome,
        occurred_at=at or utc_now(),
        provider="test",
        code="X",
    )


@pytest.fixture
def world(aws: dict[str, Any]) -> World:
    return World(aws)


def test_delivered_sets_delivered_at_and_changes_no_balance(world: World) -> None:
    world.buy(5)
    send_id = world.send(2)
    world.process()
    before = world.state(send_id)
    at = utc_now() + timedelta(seconds=3)

    assert world.apply(report(send_id, "r00000", "DELIVERED", at=at)) == [ReportEffect.DELIVERED]

    after = world.state(send_id)
    recipients = world.recipients(send_id)
    assert (recipients["r00000"].status, recipients["r00000"].delivered_at) == ("SENT", at)
    assert recipients["r00001"].delivered_at is None
    assert after[:3] == before[:3]  # balance, ledger and counters as they were
    assert world.sms_count() == 3
    world.consistent(send_id)


def test_recipient_not_found_fails_invalid_without_resend_and_its_count_goes_back(world: World) -> None:
    world.buy(5)
    send_id = world.send(2)
    world.process()
    assert world.sms_count() == 3

    assert world.apply(report(send_id, "r00001", "RECIPIENT_NOT_FOUND")) == [ReportEffect.INVALID_RECIPIENT]

    gone = world.recipients(send_id)["r00001"]
    assert (gone.status, gone.reason, gone.resendable, gone.charged, gone.charge_id, gone.retry_at) == (
        "FAILED",
        "INVALID_RECIPIENT",
        False,
        0,
        None,
        None,
    )
    assert world.sms_count() == 4
    refunds = [e for e in world.store.all_ledger_entries(world.account_id) if e.type == "NOTIFICATION_REFUND"]
    assert [(e.notification_channel, e.notification_count, e.send_id) for e in refunds] == [("sms", 1, send_id)]
    send = world.store.get_send(world.account_id, KIND, send_id)
    assert send is not None
    assert (send.counts.sent, send.counts.failed, send.counts.resendable, send.counts.retrying) == (1, 1, 0, 0)
    assert effective_status(send) == "COMPLETED"
    assert resend_send(world.store, WorkQueue(world.sqs, world.queue_url), world.account_id, KIND, send_id) == 0
    world.consistent(send_id)


def test_a_charge_whose_counts_all_came_back_is_refundable_again(world: World) -> None:
    charge_id = world.buy(1)
    send_id = world.send(1)
    world.process()
    with pytest.raises(RefundNotAllowed):
        charges.refund_charge(world.store, world.account_id, charge_id)

    world.apply(report(send_id, "r00000", "RECIPIENT_NOT_FOUND"))

    refund = charges.refund_charge(world.store, world.account_id, charge_id)
    assert refund.credits_refunded == SMS_CREDITS
    assert world.store.get_balance(world.account_id).credits == 100_000
    world.consistent(send_id)


def test_undelivered_fails_resendably_with_an_automatic_retry_and_its_count_back(world: World) -> None:
    world.buy(5)
    send_id = world.send(2)
    world.process()
    applied_at = utc_now()

    assert world.apply(report(send_id, "r00000", "UNDELIVERED")) == [ReportEffect.PROVIDER_ERROR]

    failed = world.recipients(send_id)["r00000"]
    assert (failed.status, failed.reason, failed.resendable, failed.charged) == ("FAILED", "PROVIDER_ERROR", True, 0)
    assert failed.retry_at is not None
    assert timedelta(seconds=59) <= failed.retry_at - applied_at <= timedelta(seconds=65)
    assert world.sms_count() == 4
    send = world.store.get_send(world.account_id, KIND, send_id)
    assert send is not None
    assert (send.counts.sent, send.counts.failed, send.counts.resendable, send.counts.retrying) == (1, 1, 1, 1)
    assert effective_status(send) == "PROCESSING"  # waits for its automatic retry
    world.consistent(send_id)


def test_undelivered_after_the_last_round_has_no_retry_but_stays_resendable(world: World) -> None:
    world.buy(5)
    send_id = world.send(1)
    world.process()

    assert world.apply(report(send_id, "r00000", "UNDELIVERED"), retry=RetryPolicy(rounds=0)) == [
        ReportEffect.PROVIDER_ERROR
    ]

    failed = world.recipients(send_id)["r00000"]
    assert (failed.resendable, failed.retry_at) == (True, None)
    send = world.store.get_send(world.account_id, KIND, send_id)
    assert send is not None and send.counts.retrying == 0 and effective_status(send) == "COMPLETED"
    world.consistent(send_id)


def test_duplicates_and_reordering_change_nothing_more(world: World) -> None:
    world.buy(5)
    send_id = world.send(3)
    world.process()
    first = [
        report(send_id, "r00000", "RECIPIENT_NOT_FOUND"),
        report(send_id, "r00001", "DELIVERED"),
        report(send_id, "r00002", "UNDELIVERED"),
    ]
    assert world.apply(*first) == [ReportEffect.INVALID_RECIPIENT, ReportEffect.DELIVERED, ReportEffect.PROVIDER_ERROR]
    once = world.state(send_id)

    later = utc_now() + timedelta(seconds=1)
    contrary = [report(send_id, rid, "DELIVERED", at=later) for rid in ("r00002", "r00000")]
    contrary.append(report(send_id, "r00001", "RECIPIENT_NOT_FOUND", at=later))
    assert world.apply(*reversed(first), *first, *contrary) == [ReportEffect.UNCHANGED] * 9
    assert world.state(send_id) == once
    assert world.sms_count() == 5 - 3 + 2
    world.consistent(send_id)


def test_the_same_report_twice_in_one_call_counts_once(world: World) -> None:
    world.buy(5)
    send_id = world.send(1)
    world.process()
    twice = report(send_id, "r00000", "RECIPIENT_NOT_FOUND")
    assert world.apply(twice, twice) == [ReportEffect.INVALID_RECIPIENT, ReportEffect.UNCHANGED]
    assert world.sms_count() == 5
    world.consistent(send_id)


def test_a_report_about_an_earlier_round_changes_nothing(world: World) -> None:
    world.sender = Scripted({e164(1): MessageStatus.REJECTED})
    world.buy(5)
    send_id = world.send(1)
    world.process()
    assert world.recipients(send_id)["r00000"].reason == "PROVIDER_ERROR"
    assert resend_send(world.store, WorkQueue(world.sqs, world.queue_url), world.account_id, KIND, send_id) == 1
    stale = report(send_id, "r00000", "UNDELIVERED")  # round 0's message was never accepted, but say it was

    pending = world.state(send_id)
    assert world.apply(stale) == [ReportEffect.UNCHANGED]  # round 1 is pending: not "not ready", just stale
    assert world.state(send_id) == pending

    world.sender.answers.clear()
    world.process()
    resent = world.state(send_id)
    assert world.recipients(send_id)["r00000"].round == 1
    assert world.apply(stale, report(send_id, "r00000", "RECIPIENT_NOT_FOUND")) == [ReportEffect.UNCHANGED] * 2
    assert world.state(send_id) == resent
    assert world.apply(report(send_id, "r00000", "DELIVERED", round_=1)) == [ReportEffect.DELIVERED]
    assert world.sms_count() == 4
    world.consistent(send_id)


def test_a_report_while_the_recipient_is_pending_is_not_ready_and_works_later(world: World) -> None:
    world.buy(5)
    settled = world.send(1)
    world.process()
    early = world.send(1, first=2)  # queued, not yet processed
    reports = [report(settled, "r00000", "DELIVERED"), report(early, "r00000", "RECIPIENT_NOT_FOUND")]
    untouched = world.state(early)

    with pytest.raises(ReportNotReady):
        world.apply(*reports)
    assert world.recipients(settled)["r00000"].delivered_at is not None  # what was ready is written
    assert world.state(early) == untouched

    world.process()
    assert world.apply(*reports) == [ReportEffect.UNCHANGED, ReportEffect.INVALID_RECIPIENT]
    assert world.sms_count() == 5 - 1
    world.consistent(settled)
    world.consistent(early)


def test_a_report_for_an_unknown_attempt_is_unknown(world: World) -> None:
    world.buy(5)
    send_id = world.send(1)
    world.process()
    before = world.state(send_id)
    unknown = [
        DeliveryReport(attempt="not-an-attempt", outcome="DELIVERED", occurred_at=utc_now(), provider="ses"),
        report("nsnd_00000000000000000000ffff", "r00000", "RECIPIENT_NOT_FOUND"),  # no such send
        report(send_id, "r00042", "RECIPIENT_NOT_FOUND"),  # no such recipient
        DeliveryReport(
            attempt=RecipientAttempt(send_id, 7, "r00000", 0).key,  # no such batch
            outcome="UNDELIVERED",
            occurred_at=utc_now(),
            provider="ses",
        ),
    ]
    assert world.apply(*unknown) == [ReportEffect.UNKNOWN] * 4
    assert world.state(send_id) == before


def test_a_report_keeps_a_reservation_in_progress_and_the_settlement_still_settles(world: World) -> None:
    world.sender = Scripted({e164(1): MessageStatus.REJECTED})
    world.buy(5)
    send_id = world.send(2)
    world.process()
    assert resend_send(world.store, WorkQueue(world.sqs, world.queue_url), world.account_id, KIND, send_id) == 1
    world.sender.answers.clear()
    (job,) = world.jobs()

    def crash(step: str) -> None:
        if step == "reserved":
            raise SimulatedCrash(step)

    with pytest.raises(SimulatedCrash):
        process_batch(world.worker(checkpoint=crash), job)
    reserved = world.store.get_batch(send_id, 0)
    assert reserved is not None and reserved.reservation is not None

    assert world.apply(report(send_id, "r00001", "RECIPIENT_NOT_FOUND")) == [ReportEffect.INVALID_RECIPIENT]
    kept = world.store.get_batch(send_id, 0)
    assert kept is not None and kept.reservation == reserved.reservation
    assert world.sms_count() == 5 - 1  # r00001's count back, r00000's round 1 still taken

    process_batch(world.worker(), job)  # the redelivered job finishes its reservation
    recipients = world.recipients(send_id)
    assert (recipients["r00000"].status, recipients["r00000"].round) == ("SENT", 1)
    assert (recipients["r00001"].status, recipients["r00001"].reason) == ("FAILED", "INVALID_RECIPIENT")
    settled = world.store.get_batch(send_id, 0)
    assert settled is not None and settled.reservation is None
    assert world.sms_count() == 4
    world.consistent(send_id)


def test_a_report_landing_just_before_the_settlement_write_is_kept_by_it(world: World) -> None:
    world.sender = Scripted({e164(1): MessageStatus.REJECTED})
    world.buy(5)
    send_id = world.send(2)
    world.process()
    assert resend_send(world.store, WorkQueue(world.sqs, world.queue_url), world.account_id, KIND, send_id) == 1
    world.sender.answers.clear()
    raced: list[list[ReportEffect]] = []
    store = world.store

    class RacingStore(DataStore):
        def commit_settlement(self, *args: Any, **kwargs: Any) -> None:
            if not raced:  # the report moves the batch's version: this write loses and the settlement re-reads
                raced.append(apply_reports(store, [report(send_id, "r00001", "RECIPIENT_NOT_FOUND")], RETRY))
            super().commit_settlement(*args, **kwargs)

    world.process(store=RacingStore(boto3.client("dynamodb"), TABLE))

    assert raced == [[ReportEffect.INVALID_RECIPIENT]]
    recipients = world.recipients(send_id)
    assert (recipients["r00000"].status, recipients["r00000"].round) == ("SENT", 1)
    assert (recipients["r00001"].status, recipients["r00001"].reason) == ("FAILED", "INVALID_RECIPIENT")
    assert world.sms_count() == 4
    world.consistent(send_id)


def test_many_reports_of_one_batch_are_one_conditional_write(world: World) -> None:
    world.buy(10)
    first, second = world.send(5), world.send(3, first=6)
    world.process()
    commits: list[str] = []

    class CountingStore(DataStore):
        def commit_report(self, batch: Any, *args: Any) -> None:
            commits.append(batch.send_id)
            super().commit_report(batch, *args)

    outcomes: list[ReportOutcome] = ["DELIVERED", "RECIPIENT_NOT_FOUND", "UNDELIVERED", "DELIVERED", "DELIVERED"]
    reports = [report(first, f"r{n:05d}", outcome) for n, outcome in enumerate(outcomes)]
    reports += [report(second, f"r{n:05d}", "UNDELIVERED") for n in range(3)]
    effects = apply_reports(CountingStore(boto3.client("dynamodb"), TABLE), reports, RETRY)

    assert sorted(commits) == sorted([first, second])
    assert effects.count(ReportEffect.DELIVERED) == 3 and effects.count(ReportEffect.PROVIDER_ERROR) == 4
    assert world.sms_count() == 10 - 8 + 5
    refunds = [e for e in world.store.all_ledger_entries(world.account_id) if e.type == "NOTIFICATION_REFUND"]
    assert sorted(e.notification_count or 0 for e in refunds) == [2, 3]  # one entry per batch
    commits.clear()
    assert apply_reports(CountingStore(boto3.client("dynamodb"), TABLE), reports, RETRY) == [ReportEffect.UNCHANGED] * 8
    assert commits == []  # nothing to write, nothing written
    world.consistent(first)
    world.consistent(second)


def test_each_sent_recipient_is_funded_by_a_charge_that_paid(world: World) -> None:
    older, newer = world.buy(1), world.buy(2)
    world.sender = Scripted({e164(2): MessageStatus.RECIPIENT_NOT_FOUND})
    send_id = world.send(3)
    world.process()

    recipients = world.recipients(send_id)
    # Three counts taken oldest first (older:1, newer:2); the refused one went back to the newest.
    assert [(r.status, r.charge_id) for r in recipients.values()] == [
        ("SENT", older),
        ("FAILED", None),
        ("SENT", newer),
    ]
    assert (world.used_by_charge(older), world.used_by_charge(newer)) == (1, 1)

    world.apply(report(send_id, "r00000", "RECIPIENT_NOT_FOUND"))
    assert (world.used_by_charge(older), world.used_by_charge(newer)) == (0, 1)
    assert charges.refund_charge(world.store, world.account_id, older).credits_refunded == SMS_CREDITS
    with pytest.raises(RefundNotAllowed):
        charges.refund_charge(world.store, world.account_id, newer)

    world.apply(report(send_id, "r00002", "UNDELIVERED"))
    assert world.used_by_charge(newer) == 0
    assert charges.refund_charge(world.store, world.account_id, newer).credits_refunded == 2 * SMS_CREDITS
    assert world.store.get_balance(world.account_id).credits == 100_000
    world.consistent(send_id)


def test_the_sandbox_sms_reports_take_the_real_path(aws: dict[str, Any]) -> None:
    client = boto3.client("dynamodb")
    sandbox = SandboxNotificationSender(Scripted(), client, TABLE, lambda events: None)
    world = World(aws, sandbox)
    world.buy(10)
    promotion_id = create_promotion(world.store, world.account_id, "sandbox").promotion_id
    request = NotificationSendRequest(
        promotion_id=promotion_id,
        channel="sms",
        content="You won",
        recipients=[NotificationRecipientInput(phone=p) for p in ("010-1111-2222", "010-1234-7777", "010-1234-6666")],
    )
    send_id = create_notification_send(
        world.store, WorkQueue(world.sqs, world.queue_url), world.account_id, request, 50
    ).send_id
    world.process()
    assert world.sms_count() == 7

    published: list[DeliveryReport] = []
    assert (
        SandboxReportSource(client, TABLE).poll(utc_now() + REPORT_DELAY + timedelta(seconds=2), published.extend) == 3
    )
    assert sorted(world.apply(*published)) == sorted(
        [ReportEffect.DELIVERED, ReportEffect.INVALID_RECIPIENT, ReportEffect.PROVIDER_ERROR]
    )

    states = [(r.status, r.reason, r.delivered_at is not None) for r in world.recipients(send_id).values()]
    assert states == [("SENT", None, True), ("FAILED", "INVALID_RECIPIENT", False), ("FAILED", "PROVIDER_ERROR", False)]
    assert world.sms_count() == 9
    world.consistent(send_id)


def test_a_report_dated_before_the_send_was_written_is_delivered_at_sent_at(world: World) -> None:
    """A provider may date its report at acceptance, a moment before the batch's write recorded sent_at."""
    world.buy(5)
    send_id = world.send(1)
    world.process()
    sent_at = world.recipients(send_id)["r00000"].sent_at
    assert sent_at is not None

    world.apply(report(send_id, "r00000", "DELIVERED", at=sent_at - timedelta(seconds=1)))

    assert world.recipients(send_id)["r00000"].delivered_at == sent_at
