"""SolapiSender and SolapiReportSource against the wire-level fake (tests.fakes.solapi_server) on 127.0.0.1, with
their tracking items in moto's DynamoDB: the HMAC signature, one group per batch, retries that read the group back
instead of delivering twice, intake refusals, failures, and reports read from the group's message list."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
import urllib3
from moto import mock_aws

from shared.adapters.solapi import (
    REPORT_INDEX,
    GroupTrackingStore,
    SolapiApi,
    SolapiCredentials,
    SolapiReportSource,
    SolapiSender,
)
from shared.domain.clock import to_rfc3339, utc_now
from shared.domain.notifications.sender import MessageResult, MessageStatus, NotificationMessage
from shared.errors import ProviderRejected, ProviderUnavailable
from shared.models.reports import DeliveryReport
from tests.conftest import table_definition, use_test_aws
from tests.fakes.solapi_server import API_KEY, API_SECRET, SENDER_NUMBER, FakeSolapiServer

TABLE = "test-data"
TEXT = "당첨을 축하합니다!"
DELIVERY_SECONDS = 60


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    use_test_aws(monkeypatch)
    with mock_aws():
        client = boto3.client("dynamodb")
        client.create_table(**table_definition("DataTable", TABLE))
        yield client


@pytest.fixture
def solapi() -> Iterator[FakeSolapiServer]:
    with FakeSolapiServer(delivery_seconds=DELIVERY_SECONDS) as fake:
        yield fake


def api_for(fake: FakeSolapiServer, *, secret: str = API_SECRET, key: str = API_KEY, **options: Any) -> SolapiApi:
    options.setdefault("timeout_seconds", 2.0)
    return SolapiApi(fake.url, SolapiCredentials(api_key=key, api_secret=secret), **options)


@pytest.fixture
def api(solapi: FakeSolapiServer) -> SolapiApi:
    return api_for(solapi)


@pytest.fixture
def sender(api: SolapiApi, dynamodb: Any) -> SolapiSender:
    return SolapiSender(api, dynamodb, TABLE, SENDER_NUMBER)


@pytest.fixture
def reports(api: SolapiApi, dynamodb: Any) -> SolapiReportSource:
    return SolapiReportSource(api, dynamodb, TABLE)


def phone(n: int, suffix: str | None = None) -> str:
    return f"+82101{n:03d}{suffix or f'{n:04d}'}"


def sms(n: int, suffix: str | None = None, *, key: str | None = None) -> NotificationMessage:
    return NotificationMessage(
        idempotency_key=key or f"nsnd_0193abcdef12aabbccddeeff-1-r{n:05d}-1",
        channel="sms",
        destination=phone(n, suffix),
        body=TEXT,
    )


def batch(size: int) -> list[NotificationMessage]:
    return [sms(n) for n in range(size)]


def assert_each_accepted_once(
    results: dict[str, MessageResult], messages: Sequence[NotificationMessage], solapi: FakeSolapiServer
) -> None:
    assert {k: r.status for k, r in results.items()} == {m.idempotency_key: MessageStatus.ACCEPTED for m in messages}
    sent = solapi.sent_messages()
    assert sorted(m.custom_fields["attempt"] for m in sent) == sorted(m.idempotency_key for m in messages)
    assert {results[m.custom_fields["attempt"]].provider_message_id for m in sent} == {m.message_id for m in sent}


def watched(dynamodb: Any) -> list[str]:
    """The batch keys of the groups in the report index."""
    page = dynamodb.query(
        TableName=TABLE,
        IndexName="gsi2",
        KeyConditionExpression="gsi2pk = :index",
        ExpressionAttributeValues={":index": {"S": REPORT_INDEX}},
    )
    return [item["batch_key"]["S"] for item in page["Items"]]


class Published:
    def __init__(self) -> None:
        self.reports: list[DeliveryReport] = []

    def __call__(self, reports: Sequence[DeliveryReport]) -> None:
        self.reports.extend(reports)

    def outcomes(self) -> dict[str, tuple[str, str | None]]:
        return {r.attempt: (r.outcome, r.code) for r in self.reports}


# -- authentication ------------------------------------------------------------------------------------------------


def test_every_request_is_signed_with_a_fresh_salt(sender: SolapiSender, solapi: FakeSolapiServer) -> None:
    sender.send_batch("batch-1", batch(3))

    headers = [r.header("Authorization") or "" for r in solapi.requests]
    assert len(headers) == 3
    salts = set()
    for header in headers:
        fields = re.fullmatch(
            r"HMAC-SHA256 apiKey=(?P<key>[^,]+), date=(?P<date>[^,]+), salt=(?P<salt>[^,]+), signature=(?P<sig>\w+)",
            header,
        )
        assert fields is not None
        assert fields["key"] == API_KEY
        expected = hmac.new(API_SECRET.encode(), (fields["date"] + fields["salt"]).encode(), hashlib.sha256)
        assert fields["sig"] == expected.hexdigest()
        assert abs(datetime.fromisoformat(fields["date"]) - utc_now()) < timedelta(minutes=1)
        salts.add(fields["salt"])
    assert len(salts) == 3


@pytest.mark.parametrize(
    ("key", "secret", "code"),
    [(API_KEY, "not-the-secret-0000000000", "SignatureDoesNotMatch"), ("NCSUNKNOWN", API_SECRET, "InvalidAPIKey")],
)
def test_bad_credentials_are_rejected(
    solapi: FakeSolapiServer, dynamodb: Any, key: str, secret: str, code: str
) -> None:
    sender = SolapiSender(api_for(solapi, key=key, secret=secret), dynamodb, TABLE, SENDER_NUMBER)
    with pytest.raises(ProviderRejected) as raised:
        sender.send_batch("batch-1", batch(2))
    assert (raised.value.status, raised.value.code) == (403, code)
    assert solapi.groups == []


def _signed(date: str, salt: str, secret: str = API_SECRET) -> str:
    signature = hmac.new(secret.encode(), (date + salt).encode(), hashlib.sha256).hexdigest()
    return f"HMAC-SHA256 apiKey={API_KEY}, date={date}, salt={salt}, signature={signature}"


def test_the_fake_refuses_a_reused_signature_and_a_skewed_date(solapi: FakeSolapiServer) -> None:
    http = urllib3.PoolManager(retries=False)
    header = _signed(to_rfc3339(utc_now()), "a1b2c3d4e5f6a7b8")
    first = http.request("POST", f"{solapi.url}/messages/v4/groups", headers={"Authorization": header})
    replay = http.request("POST", f"{solapi.url}/messages/v4/groups", headers={"Authorization": header})
    stale = _signed(to_rfc3339(utc_now() - timedelta(minutes=16)), "f6e5d4c3b2a1f6e5")
    skewed = http.request("POST", f"{solapi.url}/messages/v4/groups", headers={"Authorization": stale})

    assert first.status == 200
    assert (replay.status, replay.json()["errorCode"]) == (403, "DuplicatedSignature")
    assert (skewed.status, skewed.json()["errorCode"]) == (403, "RequestTimeTooSkewed")


# -- one group per batch -------------------------------------------------------------------------------------------


def test_a_200_message_batch_is_one_group_in_three_requests(sender: SolapiSender, solapi: FakeSolapiServer) -> None:
    messages = batch(200)
    results = sender.send_batch("batch-200", messages)

    assert_each_accepted_once(results, messages, solapi)
    assert (solapi.calls("create"), solapi.calls("add"), solapi.calls("send"), solapi.calls()) == (1, 1, 1, 3)
    (group,) = solapi.groups
    assert group.status == "SENDING"
    first = group.messages[0]
    wire = (first.to, first.sender, first.type, first.subject, first.text)
    assert wire == ("01010000000", "0212345678", "SMS", None, TEXT)
    assert all(result.code == "2000" for result in results.values())


def test_lms_carries_its_subject(sender: SolapiSender, solapi: FakeSolapiServer) -> None:
    lms = NotificationMessage("attempt-lms", "lms", phone(1), "긴 본문 " * 40, title="당첨 안내")
    untitled = NotificationMessage("attempt-lms-2", "lms", phone(2), "본문")
    results = sender.send_batch("batch-lms", [lms, untitled])

    assert {r.status for r in results.values()} == {MessageStatus.ACCEPTED}
    sent = {m.custom_fields["attempt"]: m for m in solapi.sent_messages()}
    assert (sent["attempt-lms"].type, sent["attempt-lms"].subject) == ("LMS", "당첨 안내")
    assert (sent["attempt-lms-2"].type, sent["attempt-lms-2"].subject) == ("LMS", None)


def test_email_is_not_for_solapi(sender: SolapiSender, solapi: FakeSolapiServer) -> None:
    email = NotificationMessage("attempt-mail", "email", "winner@example.com", "본문", title="제목")
    with pytest.raises(ValueError, match="sms and lms"):
        sender.send_batch("batch-mail", [email])
    assert solapi.calls() == 0


# -- retries never deliver twice -----------------------------------------------------------------------------------


@pytest.mark.parametrize("lost", ["add", "send"])
def test_a_retry_after_a_lost_answer_reads_the_group_back_and_delivers_once(
    sender: SolapiSender, solapi: FakeSolapiServer, lost: str
) -> None:
    messages = batch(50)
    solapi.drop_next(lost)  # Solapi does the work; the answer never arrives
    with pytest.raises(ProviderUnavailable):
        sender.send_batch("batch-lost", messages)

    results = sender.send_batch("batch-lost", messages)

    assert_each_accepted_once(results, messages, solapi)
    assert len(solapi.groups) == 1 and len(solapi.groups[0].messages) == 50
    assert (solapi.calls("create"), solapi.calls("add"), solapi.calls("send")) == (1, 1, 1)
    assert solapi.calls("group") == 1 and solapi.calls("list") == 1


def test_a_retry_after_a_slow_send_does_not_send_again(solapi: FakeSolapiServer, dynamodb: Any) -> None:
    sender = SolapiSender(api_for(solapi, timeout_seconds=0.5), dynamodb, TABLE, SENDER_NUMBER)
    messages = batch(5)
    solapi.slow_next("send", 5)
    with pytest.raises(ProviderUnavailable):
        sender.send_batch("batch-slow", messages)

    assert_each_accepted_once(sender.send_batch("batch-slow", messages), messages, solapi)
    assert solapi.calls("send") == 1


def test_a_retry_after_a_failed_send_sends_the_same_group(sender: SolapiSender, solapi: FakeSolapiServer) -> None:
    messages = batch(5)
    solapi.fail_next("send", 502, "BadGateway")
    with pytest.raises(ProviderUnavailable):
        sender.send_batch("batch-502", messages)

    assert_each_accepted_once(sender.send_batch("batch-502", messages), messages, solapi)
    assert (solapi.calls("create"), solapi.calls("add"), solapi.calls("send")) == (1, 1, 2)


def test_a_retry_after_a_lost_create_leaves_only_an_empty_unsent_group(solapi: FakeSolapiServer, dynamodb: Any) -> None:
    sender = SolapiSender(api_for(solapi, timeout_seconds=0.5), dynamodb, TABLE, SENDER_NUMBER)
    messages = batch(3)
    solapi.slow_next("create", 5)
    with pytest.raises(ProviderUnavailable):
        sender.send_batch("batch-create", messages)

    assert_each_accepted_once(sender.send_batch("batch-create", messages), messages, solapi)
    orphan, used = solapi.groups
    assert (orphan.status, orphan.messages) == ("PENDING", [])
    assert used.status == "SENDING"


def test_a_second_group_for_the_same_batch_loses_to_the_first(dynamodb: Any) -> None:
    store = GroupTrackingStore(dynamodb, TABLE)
    now = utc_now()
    assert store.claim("batch-race", "G-FIRST", now).group_id == "G-FIRST"
    assert store.claim("batch-race", "G-SECOND", now).group_id == "G-FIRST"


def test_reading_back_pages_through_the_group(solapi: FakeSolapiServer, dynamodb: Any) -> None:
    sender = SolapiSender(api_for(solapi, page_size=7), dynamodb, TABLE, SENDER_NUMBER)
    messages = batch(20)
    solapi.drop_next("add")
    with pytest.raises(ProviderUnavailable):
        sender.send_batch("batch-pages", messages)

    assert_each_accepted_once(sender.send_batch("batch-pages", messages), messages, solapi)
    assert solapi.calls("list") == 3
    assert solapi.calls("add") == 1


# -- intake refusals and failures ----------------------------------------------------------------------------------


def test_intake_refusals_are_mapped(sender: SolapiSender, solapi: FakeSolapiServer) -> None:
    solapi.intake_codes.update({"1060": "1060", "1061": "1061", "1024": "1024"})
    messages = [sms(1), sms(2, "1060"), sms(3, "1061"), sms(4, "1024")]
    abroad = NotificationMessage("attempt-abroad", "sms", "+14155550123", TEXT)
    results = sender.send_batch("batch-intake", [*messages, abroad])

    assert {k: (r.status, r.code) for k, r in results.items()} == {
        messages[0].idempotency_key: (MessageStatus.ACCEPTED, "2000"),
        messages[1].idempotency_key: (MessageStatus.REJECTED, "1060"),
        messages[2].idempotency_key: (MessageStatus.REJECTED, "1061"),
        messages[3].idempotency_key: (MessageStatus.RETRY, "1024"),
        "attempt-abroad": (MessageStatus.REJECTED, "UNSUPPORTED_NUMBER"),
    }
    assert [m.custom_fields["attempt"] for m in solapi.sent_messages()] == [messages[0].idempotency_key]


def test_a_batch_refused_at_intake_is_not_sent(solapi: FakeSolapiServer, dynamodb: Any) -> None:
    sender = SolapiSender(api_for(solapi), dynamodb, TABLE, SENDER_NUMBER)
    solapi.intake_codes.update({"1060": "1060"})
    results = sender.send_batch("batch-none", [sms(1, "1060")])

    assert results[sms(1, "1060").idempotency_key].status is MessageStatus.REJECTED
    assert solapi.calls("send") == 0
    assert watched(dynamodb) == []


def test_an_unregistered_sender_number_is_rejected(solapi: FakeSolapiServer, dynamodb: Any) -> None:
    sender = SolapiSender(api_for(solapi), dynamodb, TABLE, "02-9999-8888")
    with pytest.raises(ProviderRejected) as raised:
        sender.send_batch("batch-sender", batch(3))
    assert raised.value.code == "1062"
    assert solapi.calls("send") == 0 and solapi.sent_messages() == []


def test_a_sender_number_is_required(api: SolapiApi, dynamodb: Any) -> None:
    with pytest.raises(ValueError, match="sender number"):
        SolapiSender(api, dynamodb, TABLE, "")


@pytest.mark.parametrize(
    ("endpoint", "status", "code"),
    [("create", 503, "ServiceUnavailable"), ("create", 429, "TooManyRequests"), ("add", 500, "InternalError")],
)
def test_server_errors_are_unavailable(
    sender: SolapiSender, solapi: FakeSolapiServer, endpoint: str, status: int, code: str
) -> None:
    solapi.fail_next(endpoint, status, code)
    with pytest.raises(ProviderUnavailable):
        sender.send_batch("batch-5xx", batch(2))
    assert solapi.sent_messages() == []


def test_a_slow_answer_is_unavailable_within_the_timeout(solapi: FakeSolapiServer, dynamodb: Any) -> None:
    sender = SolapiSender(api_for(solapi, timeout_seconds=0.3), dynamodb, TABLE, SENDER_NUMBER)
    solapi.slow_next("create", 10)
    started = datetime.now()
    with pytest.raises(ProviderUnavailable):
        sender.send_batch("batch-slow-create", batch(2))
    assert datetime.now() - started < timedelta(seconds=3)


def test_an_unreadable_success_is_unavailable(sender: SolapiSender, solapi: FakeSolapiServer) -> None:
    solapi.fail_next("create", 200, "Maintenance")  # a 200 without a group id
    with pytest.raises(ProviderUnavailable):
        sender.send_batch("batch-garbled", batch(2))


@pytest.mark.parametrize(
    ("endpoint", "status", "code"),
    [("create", 401, "Unauthorized"), ("create", 403, "Forbidden"), ("send", 402, "NotEnoughBalance")],
)
def test_refusals_are_rejected(
    sender: SolapiSender, solapi: FakeSolapiServer, endpoint: str, status: int, code: str
) -> None:
    solapi.fail_next(endpoint, status, code)
    with pytest.raises(ProviderRejected) as raised:
        sender.send_batch("batch-refused", batch(2))
    assert (raised.value.status, raised.value.code) == (status, code)


def test_nothing_personal_or_secret_is_logged(
    solapi: FakeSolapiServer, dynamodb: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    sender = SolapiSender(api_for(solapi), dynamodb, TABLE, SENDER_NUMBER)
    solapi.drop_next("send")
    with pytest.raises(ProviderUnavailable):
        sender.send_batch("batch-logs", batch(2))
    sender.send_batch("batch-logs", batch(2))
    solapi.fail_next("create", 403, "SignatureDoesNotMatch")
    with pytest.raises(ProviderRejected) as raised:
        sender.send_batch("batch-logs-2", batch(2))

    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records if r.name.startswith("shared"))
    assert "Solapi" in logged
    for secret in (API_SECRET, API_KEY, TEXT, phone(1), "01010010001", "0212345678"):
        assert secret not in logged
        assert secret not in str(raised.value)


# -- reports -------------------------------------------------------------------------------------------------------


def test_reports_are_published_once_each_and_the_group_leaves_the_index(
    sender: SolapiSender, reports: SolapiReportSource, solapi: FakeSolapiServer, dynamodb: Any
) -> None:
    delivered, unknown, malformed, off = sms(1), sms(2, "7777"), sms(3, "0000"), sms(4, "6666")
    sender.send_batch("batch-reports", [delivered, unknown, malformed, off])
    published = Published()
    now = utc_now()

    assert reports.poll(now + timedelta(seconds=31), published) == 0  # all at the carrier still
    assert watched(dynamodb) == ["batch-reports"]

    solapi.advance(DELIVERY_SECONDS + 1)
    assert reports.poll(now + timedelta(minutes=5), published) == 4
    assert published.outcomes() == {
        delivered.idempotency_key: ("DELIVERED", "4000"),
        unknown.idempotency_key: ("RECIPIENT_NOT_FOUND", "3032"),
        malformed.idempotency_key: ("RECIPIENT_NOT_FOUND", "3010"),
        off.idempotency_key: ("UNDELIVERED", "3043"),
    }
    assert {r.provider for r in published.reports} == {"solapi"}
    sent_at = solapi.groups[0].sent_at
    assert sent_at is not None
    reported_at = sent_at + timedelta(seconds=DELIVERY_SECONDS)  # Solapi's timestamps are in milliseconds
    in_millis = reported_at.replace(microsecond=reported_at.microsecond // 1000 * 1000)
    assert {r.occurred_at for r in published.reports} == {in_millis}
    assert watched(dynamodb) == []

    lists = solapi.calls("list")
    assert reports.poll(now + timedelta(hours=1), published) == 0
    assert solapi.calls("list") == lists  # a finished group is not read again
    assert len(published.reports) == 4


def test_a_group_is_checked_only_when_due(
    sender: SolapiSender, reports: SolapiReportSource, solapi: FakeSolapiServer
) -> None:
    sender.send_batch("batch-due", [sms(1)])
    assert reports.poll(utc_now(), Published()) == 0
    assert solapi.calls("list") == 0


def test_messages_never_reported_are_undelivered_after_the_cutoff(
    sender: SolapiSender, reports: SolapiReportSource, solapi: FakeSolapiServer, dynamodb: Any
) -> None:
    delivered, silent = sms(1), sms(2, "5555")
    sender.send_batch("batch-cutoff", [delivered, silent])
    solapi.advance(DELIVERY_SECONDS + 1)
    published = Published()
    now = utc_now()

    assert reports.poll(now + timedelta(minutes=5), published) == 1
    assert reports.poll(now + timedelta(hours=1), published) == 0  # the delivered one is not published again
    assert watched(dynamodb) == ["batch-cutoff"]

    assert reports.poll(now + timedelta(hours=72, minutes=1), published) == 1
    assert published.outcomes() == {
        delivered.idempotency_key: ("DELIVERED", "4000"),
        silent.idempotency_key: ("UNDELIVERED", "3000"),
    }
    assert watched(dynamodb) == []


def test_a_crash_after_publishing_publishes_the_same_reports_again(
    sender: SolapiSender, reports: SolapiReportSource, solapi: FakeSolapiServer, dynamodb: Any
) -> None:
    messages = [sms(1), sms(2, "7777")]
    sender.send_batch("batch-crash", messages)
    solapi.advance(DELIVERY_SECONDS + 1)
    first = Published()

    def publish_then_crash(batch: Sequence[DeliveryReport]) -> None:
        first(batch)
        raise RuntimeError("crashed before the group was updated")

    now = utc_now() + timedelta(minutes=5)
    with pytest.raises(RuntimeError):
        reports.poll(now, publish_then_crash)
    again = Published()
    assert reports.poll(now, again) == 2

    assert sorted(again.reports, key=lambda r: r.attempt) == sorted(first.reports, key=lambda r: r.attempt)
    assert watched(dynamodb) == []


def test_intake_refusals_get_no_report(
    sender: SolapiSender, reports: SolapiReportSource, solapi: FakeSolapiServer, dynamodb: Any
) -> None:
    solapi.intake_codes["1060"] = "1060"
    sender.send_batch("batch-mixed", [sms(1), sms(2, "1060")])
    solapi.advance(DELIVERY_SECONDS + 1)
    published = Published()

    assert reports.poll(utc_now() + timedelta(minutes=5), published) == 1
    assert list(published.outcomes().values()) == [("DELIVERED", "4000")]
    assert watched(dynamodb) == []


def test_reports_page_through_large_groups(solapi: FakeSolapiServer, dynamodb: Any) -> None:
    api = api_for(solapi, page_size=25)
    SolapiSender(api, dynamodb, TABLE, SENDER_NUMBER).send_batch("batch-big", batch(60))
    solapi.advance(DELIVERY_SECONDS + 1)
    published = Published()

    assert SolapiReportSource(api, dynamodb, TABLE).poll(utc_now() + timedelta(minutes=5), published) == 60
    assert solapi.calls("list") == 3
    assert len({r.attempt for r in published.reports}) == 60
