"""The batch notification port: the sandbox sender's rules and idempotency with its provider state in (moto)
DynamoDB, its SMS reports collected by SandboxReportSource.poll and its email reports handed to the event
callback; SnsSmsSender.send_batch against moto SNS and botocore's Stubber; ChannelRouter's split by family."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from botocore.stub import Stubber
from moto.core import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends

from shared.adapters.notification_delivery import ChannelRouter, SnsSmsSender, sms_text
from shared.adapters.sandbox_notifications import REPORT_DELAY, SandboxNotificationSender, SandboxReportSource
from shared.domain.clock import utc_now
from shared.domain.notifications.sender import MessageResult, MessageStatus, NotificationMessage
from shared.errors import ProviderUnavailable
from shared.models.reports import DeliveryReport, ReportOutcome
from tests.integration.conftest import TABLE

REGION = "ap-northeast-2"
PHONE = "+821012345678"
EMAIL = "winner@example.com"


def key(n: int, round_: int = 0) -> str:
    return f"nsnd_0193abcdef12aabbccddeeff-0-r{n:05d}-{round_}"


def sms(n: int = 1, phone: str = PHONE, body: str = "당첨을 축하합니다!", round_: int = 0) -> NotificationMessage:
    return NotificationMessage(key(n, round_), "sms", phone, body)


def lms(
    n: int = 1, phone: str = PHONE, title: str | None = "당첨 안내", body: str = "축하합니다. " * 30
) -> NotificationMessage:
    return NotificationMessage(key(n), "lms", phone, body, title=title)


def email(
    n: int = 1, address: str = EMAIL, title: str = "당첨을 축하합니다 🎉", body: str = "홍길동님"
) -> NotificationMessage:
    return NotificationMessage(key(n), "email", address, body, title=title)


class Recording:
    """The real senders behind the sandbox: records what reached them, accepts it (or answers ``status``)."""

    def __init__(self, status: MessageStatus = MessageStatus.ACCEPTED) -> None:
        self.status = status
        self.batches: list[tuple[str, list[NotificationMessage]]] = []

    @property
    def sent(self) -> list[NotificationMessage]:
        return [m for _, batch in self.batches for m in batch]

    def send_batch(self, batch_key: str, messages: Sequence[NotificationMessage]) -> dict[str, MessageResult]:
        self.batches.append((batch_key, list(messages)))
        if self.status is not MessageStatus.ACCEPTED:
            return {m.idempotency_key: MessageResult(self.status) for m in messages}
        return {m.idempotency_key: MessageResult(MessageStatus.ACCEPTED, f"id-{m.idempotency_key}") for m in messages}


EmailEvent = tuple[str, str, ReportOutcome, datetime]


class World:
    def __init__(self, dynamodb: Any) -> None:
        self.dynamodb = dynamodb
        self.delivery = Recording()
        self.email_events: list[EmailEvent] = []
        self.sandbox = self.sender()
        self.reports = SandboxReportSource(dynamodb, TABLE)

    def sender(self, delivery: Any = None) -> SandboxNotificationSender:
        """Another sandbox instance (a Lambda restart) over the same provider state."""
        return SandboxNotificationSender(delivery or self.delivery, self.dynamodb, TABLE, self.email_events.extend)

    def poll(self, after: timedelta) -> list[DeliveryReport]:
        published: list[DeliveryReport] = []
        assert self.reports.poll(utc_now() + after, published.extend) == len(published)
        return published


@pytest.fixture
def world(aws: dict[str, Any]) -> World:
    return World(aws["dynamodb"])


DUE = REPORT_DELAY + timedelta(seconds=2)


def status_of(results: dict[str, MessageResult]) -> dict[str, MessageStatus]:
    return {k: r.status for k, r in results.items()}


# -- the message ----------------------------------------------------------------------------------------------------


def test_message_shape_is_checked() -> None:
    with pytest.raises(ValueError, match="sms has no title"):
        NotificationMessage("k", "sms", PHONE, "body", title="제목")
    with pytest.raises(ValueError, match="needs a title"):
        NotificationMessage("k", "email", EMAIL, "body")
    with pytest.raises(ValueError, match="idempotency key"):
        NotificationMessage("", "sms", PHONE, "body")
    with pytest.raises(ValueError, match="destination"):
        NotificationMessage("k", "lms", "", "body")
    assert NotificationMessage("k", "lms", PHONE, "body").title is None  # an lms title is optional
    assert sms_text(lms(title="T", body="B")) == "[T]\nB"
    assert sms_text(lms(title=None, body="B")) == "B"


# -- sandbox rules ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        sms(phone="+821012340000"),
        lms(phone="+821012340000"),
        email(address="a@invalid.example"),
        email(address="X@Invalid.Example"),
    ],
)
def test_unknown_recipients_are_not_found_and_not_delivered(world: World, message: NotificationMessage) -> None:
    results = world.sandbox.send_batch("b", [message])
    assert results == {
        message.idempotency_key: MessageResult(MessageStatus.RECIPIENT_NOT_FOUND, code="SANDBOX_NOT_FOUND")
    }
    assert world.delivery.batches == [] and world.email_events == []
    assert world.poll(DUE) == []


@pytest.mark.parametrize(
    "message", [sms(phone="+821012349999"), lms(phone="+821012349999"), email(address="w@fail.example")]
)
def test_failing_recipients_are_retry_on_every_call(world: World, message: NotificationMessage) -> None:
    for _ in range(4):
        assert status_of(world.sandbox.send_batch("b", [message])) == {message.idempotency_key: MessageStatus.RETRY}
    assert world.delivery.sent == [] and world.email_events == []
    assert world.sandbox.calls(message.idempotency_key) == 4
    assert world.poll(DUE) == []


def test_8888_is_retry_twice_per_key_even_across_instances_then_accepted(world: World) -> None:
    flaky = sms(2, phone="+821012348888")
    assert status_of(world.sandbox.send_batch("b", [flaky])) == {flaky.idempotency_key: MessageStatus.RETRY}
    assert status_of(world.sender().send_batch("b", [flaky])) == {flaky.idempotency_key: MessageStatus.RETRY}
    third = world.sender()
    assert third.send_batch("b", [flaky]) == {
        flaky.idempotency_key: MessageResult(MessageStatus.ACCEPTED, f"id-{flaky.idempotency_key}")
    }
    assert world.delivery.sent == [flaky]
    assert third.calls(flaky.idempotency_key) == 3
    resend = sms(2, phone="+821012348888", round_=1)  # a new key (a resend round) starts over
    assert status_of(third.send_batch("b", [resend])) == {resend.idempotency_key: MessageStatus.RETRY}
    [report] = world.poll(DUE)
    assert (report.attempt, report.outcome) == (flaky.idempotency_key, "DELIVERED")


def test_one_batch_of_every_rule_delivers_only_the_deliverable_in_one_call(world: World) -> None:
    batch = [
        sms(1),
        sms(2, phone="+821012340000"),
        sms(3, phone="+821012349999"),
        sms(4, phone="+821012348888"),
        sms(5, phone="+821012347777"),
        lms(6, phone="+821012346666"),
    ]
    results = world.sandbox.send_batch("batch-1", batch)
    assert status_of(results) == {
        key(1): MessageStatus.ACCEPTED,
        key(2): MessageStatus.RECIPIENT_NOT_FOUND,
        key(3): MessageStatus.RETRY,
        key(4): MessageStatus.RETRY,
        key(5): MessageStatus.ACCEPTED,
        key(6): MessageStatus.ACCEPTED,
    }
    assert world.delivery.batches == [("batch-1", [batch[0], batch[4], batch[5]])]


# -- idempotency ----------------------------------------------------------------------------------------------------


def test_a_second_batch_with_the_same_keys_delivers_nothing_more_and_answers_the_same(world: World) -> None:
    batch = [sms(1), lms(2), email(3), email(4, address="b@bounce.example")]
    first = world.sandbox.send_batch("batch-1", batch)
    events = list(world.email_events)
    again = world.sender(Recording()).send_batch("batch-1", batch)  # a redelivered job, another instance

    assert again == first
    assert {r.status for r in first.values()} == {MessageStatus.ACCEPTED}
    assert len({r.provider_message_id for r in first.values()}) == 4
    assert world.delivery.sent == batch  # delivered once per key
    # An email's report goes again (the call that accepted it may have crashed before reporting): the same
    # reports, which the domain applies once; an SMS report waits once in its due item.
    assert [e[:3] for e in world.email_events] == [e[:3] for e in events] * 2
    assert len(world.poll(DUE)) == 2


def test_a_key_reused_for_other_content_is_rejected(world: World) -> None:
    world.sandbox.send_batch("b", [sms(1)])
    for reused in (
        sms(1, phone="+821099998877"),
        sms(1, body="다른 내용"),
        NotificationMessage(key(1), "lms", PHONE, "당첨을 축하합니다!"),
    ):
        assert world.sandbox.send_batch("b", [reused]) == {
            key(1): MessageResult(MessageStatus.REJECTED, code="IDEMPOTENCY_KEY_REUSED")
        }
    assert world.delivery.sent == [sms(1)]


def test_what_the_real_sender_did_not_take_is_delivered_by_a_later_call(world: World) -> None:
    for refused in (Recording(MessageStatus.RETRY), Recording(MessageStatus.REJECTED)):
        results = world.sender(refused).send_batch("b", [sms(1), email(2)])
        assert status_of(results) == {key(1): refused.status, key(2): refused.status}

    class Down:
        def send_batch(self, batch_key: str, messages: Sequence[NotificationMessage]) -> dict[str, MessageResult]:
            raise ProviderUnavailable("down")

    with pytest.raises(ProviderUnavailable):
        world.sender(Down()).send_batch("b", [sms(1), email(2)])
    assert world.email_events == [] and world.poll(DUE) == []  # nothing was recorded as accepted

    assert {r.status for r in world.sandbox.send_batch("b", [sms(1), email(2)]).values()} == {MessageStatus.ACCEPTED}
    assert world.delivery.sent == [sms(1), email(2)]


def test_the_provider_state_keeps_a_digest_not_the_message(world: World, aws: dict[str, Any]) -> None:
    world.sandbox.send_batch("b", [sms(1)])
    world.sandbox.send_batch("b", [sms(1)])
    item = aws["dynamodb"].get_item(
        TableName=TABLE, Key={"pk": {"S": f"SANDBOX_PROVIDER#NOTIFY#{key(1)}"}, "sk": {"S": "NOTIFY"}}
    )["Item"]
    assert item["calls"]["N"] == "2" and "expires_at" in item
    assert PHONE not in str(item) and "축하" not in str(item)


# -- reports --------------------------------------------------------------------------------------------------------


def test_sms_reports_come_due_after_the_delay_once_each(world: World) -> None:
    world.sandbox.send_batch(
        "b",
        [
            sms(1),
            sms(2, phone="+821012347777"),
            lms(3, phone="+821012346666"),
            sms(4, phone="+821012340000"),
            sms(5, phone="+821012349999"),
            email(6),
        ],
    )
    accepted_at = utc_now()
    assert world.poll(timedelta(seconds=REPORT_DELAY.total_seconds() - 5)) == []
    reports = world.poll(DUE)

    assert sorted((r.attempt, r.outcome, r.code) for r in reports) == [
        (key(1), "DELIVERED", "SANDBOX_DELIVERED"),
        (key(2), "RECIPIENT_NOT_FOUND", "SANDBOX_RECIPIENT_NOT_FOUND"),
        (key(3), "UNDELIVERED", "SANDBOX_UNDELIVERED"),
    ]
    assert {r.provider for r in reports} == {"sandbox"}
    for report in reports:
        assert timedelta(0) <= accepted_at + REPORT_DELAY - report.occurred_at < timedelta(seconds=5)
    assert world.poll(DUE) == []  # not again
    assert world.poll(timedelta(days=1)) == []


def test_reports_stay_due_until_published(world: World) -> None:
    world.sandbox.send_batch("b", [sms(1), sms(2)])

    def queue_down(reports: Sequence[DeliveryReport]) -> None:
        raise ConnectionError("queue unavailable")

    with pytest.raises(ConnectionError):
        world.reports.poll(utc_now() + DUE, queue_down)
    assert sorted(r.attempt for r in world.poll(DUE)) == [key(1), key(2)]


def test_email_reports_go_to_the_event_callback_with_key_message_id_and_outcome(world: World) -> None:
    before = utc_now()
    results = world.sandbox.send_batch(
        "b", [email(1), email(2, address="b@bounce.example"), email(3, address="n@invalid.example"), sms(4)]
    )
    events = [(k, m, o) for k, m, o, _ in world.email_events]
    assert events == [
        (key(1), results[key(1)].provider_message_id, "DELIVERED"),
        (key(2), results[key(2)].provider_message_id, "RECIPIENT_NOT_FOUND"),
    ]
    assert all(before <= at <= utc_now() for *_, at in world.email_events)
    assert [r.attempt for r in world.poll(DUE)] == [key(4)]  # emails are not polled


# -- SNS ------------------------------------------------------------------------------------------------------------


def sent_sms() -> list[tuple[str, str]]:
    return list(sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages.values())


def test_sns_publishes_each_sms_and_lms_of_a_batch(aws: dict[str, Any]) -> None:
    batch = [
        sms(1, body="[당첨] 축하합니다"),
        lms(2, title="당첨 안내", body="본문 " * 200),
        lms(3, title=None, body="제목 없음"),
    ]
    results = SnsSmsSender(boto3.client("sns"), concurrency=2).send_batch("b", batch)

    assert set(results) == {key(1), key(2), key(3)}
    assert {r.status for r in results.values()} == {MessageStatus.ACCEPTED}
    assert len({r.provider_message_id for r in results.values()}) == 3
    assert sorted(sent_sms()) == sorted(
        [(PHONE, "[당첨] 축하합니다"), (PHONE, "[당첨 안내]\n" + "본문 " * 200), (PHONE, "제목 없음")]
    )
    assert SnsSmsSender(boto3.client("sns")).send_batch("b", []) == {}


def offline_sns() -> Any:
    return boto3.client("sns", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")


def test_sns_request_shape() -> None:
    client = offline_sns()
    with Stubber(client) as stub:
        stub.add_response(
            "publish",
            {"MessageId": "sns-1"},
            {
                "PhoneNumber": PHONE,
                "Message": "본문",
                "MessageAttributes": {
                    "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
                    "AWS.SNS.SMS.SenderID": {"DataType": "String", "StringValue": "WINNERS"},
                },
            },
        )
        results = SnsSmsSender(client, sender_id="WINNERS").send_batch("b", [sms(body="본문")])
        stub.assert_no_pending_responses()
    assert results == {key(1): MessageResult(MessageStatus.ACCEPTED, "sns-1")}


@pytest.mark.parametrize(
    ("code", "status", "answer"),
    [
        ("Throttled", 429, MessageStatus.RETRY),
        ("ThrottledException", 400, MessageStatus.RETRY),
        ("InternalError", 500, MessageStatus.RETRY),
        ("KMSThrottling", 400, MessageStatus.RETRY),
        ("AuthorizationError", 403, MessageStatus.REJECTED),
        ("InvalidParameter", 400, MessageStatus.REJECTED),
        ("OptedOut", 400, MessageStatus.REJECTED),
    ],
)
def test_a_failed_publish_answers_for_its_message_only(code: str, status: int, answer: MessageStatus) -> None:
    client = offline_sns()
    with Stubber(client) as stub:
        stub.add_response("publish", {"MessageId": "sns-1"})
        stub.add_client_error(
            "publish", service_error_code=code, service_message=f"{PHONE} refused", http_status_code=status
        )
        stub.add_response("publish", {"MessageId": "sns-3"})
        results = SnsSmsSender(client, concurrency=1).send_batch("b", [sms(1), sms(2), sms(3)])
    # The messages SNS took stay taken: a whole-batch failure would have them resent.
    assert status_of(results) == {key(1): MessageStatus.ACCEPTED, key(2): answer, key(3): MessageStatus.ACCEPTED}
    assert PHONE not in str(results)


@pytest.mark.parametrize(
    "error",
    [EndpointConnectionError(endpoint_url="https://sns.example"), ReadTimeoutError(endpoint_url="https://sns.example")],
)
def test_transport_failures_are_retry(error: Exception) -> None:
    class Raising:
        def publish(self, **_: Any) -> Any:
            raise error

    assert status_of(SnsSmsSender(Raising()).send_batch("b", [sms(1), lms(2)])) == {
        key(1): MessageStatus.RETRY,
        key(2): MessageStatus.RETRY,
    }


def test_sns_sends_only_sms_and_lms(aws: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="sms and lms"):
        SnsSmsSender(boto3.client("sns")).send_batch("b", [email()])


# -- routing --------------------------------------------------------------------------------------------------------


def test_router_hands_each_family_its_own_batch_under_the_same_key() -> None:
    phones, emails = Recording(), Recording()
    router = ChannelRouter(sms=phones, email=emails)
    batch = [sms(1), email(2), lms(3), email(4)]
    results = router.send_batch("batch-1", batch)

    assert phones.batches == [("batch-1", [batch[0], batch[2]])]
    assert emails.batches == [("batch-1", [batch[1], batch[3]])]
    assert set(results) == {key(1), key(2), key(3), key(4)}
    only_email = Recording()
    ChannelRouter(sms=only_email, email=emails).send_batch("batch-2", [email(5)])
    assert only_email.batches == []  # no empty batch for a family without messages
