"""Notification delivery adapters: SES v2 and SNS against moto, error mapping with botocore's Stubber, the sandbox
rules with provider state in (moto) DynamoDB."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import (
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)
from botocore.stub import Stubber
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends
from moto.sns.models import sns_backends

from shared.adapters.notification_delivery import (
    ChannelRouter,
    DeliveryOutcome,
    DeliveryResult,
    NotificationMessage,
    SandboxNotificationSender,
    SesEmailSender,
    SnsSmsSender,
    sms_text,
)
from shared.errors import ProviderRejected, ProviderUnavailable
from tests.conftest import table_definition, use_test_aws
from tests.integration.http_providers import unused_port_url

REGION = "ap-northeast-2"
TABLE = "test-data"
SENDER = "noreply@win.example"
PHONE = "+821012345678"
EMAIL = "winner@example.com"


def sms(key: str = "send-1:r1:0", phone: str = PHONE, body: str = "당첨을 축하합니다!") -> NotificationMessage:
    return NotificationMessage(idempotency_key=key, channel="sms", destination=phone, body=body)


def lms(
    key: str = "send-1:r1:0", phone: str = PHONE, title: str | None = "당첨 안내", body: str = "축하합니다. " * 30
) -> NotificationMessage:
    return NotificationMessage(idempotency_key=key, channel="lms", destination=phone, title=title, body=body)


def email(
    key: str = "send-1:r1:0",
    address: str = EMAIL,
    title: str = "당첨을 축하합니다 🎉",
    body: str = "홍길동님, 1등에 당첨되셨습니다.\n감사합니다.",
) -> NotificationMessage:
    return NotificationMessage(idempotency_key=key, channel="email", destination=address, title=title, body=body)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """moto with the template's data table and a verified SES sender."""
    use_test_aws(monkeypatch, REGION)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(**table_definition("DataTable", TABLE))
        sesv2 = boto3.client("sesv2", region_name=REGION)
        sesv2.create_email_identity(EmailIdentity=SENDER)
        yield {"dynamodb": dynamodb, "sesv2": sesv2, "sns": boto3.client("sns", region_name=REGION)}


def sent_emails() -> list[Any]:
    return list(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages)


def sent_sms() -> list[tuple[str, str]]:
    return list(sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages.values())


def offline_client(
    service: Literal["sesv2", "sns"], endpoint_url: str | None = None, config: Config | None = None
) -> Any:
    """A client outside moto (for botocore's Stubber, or an endpoint of its own): dummy credentials."""
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url=endpoint_url,
        config=config,
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )


class RecordingSender:
    """A NotificationSender that records what reached it."""

    def __init__(self) -> None:
        self.sent: list[NotificationMessage] = []

    def send(self, message: NotificationMessage) -> DeliveryResult:
        self.sent.append(message)
        return DeliveryResult(DeliveryOutcome.DELIVERED, f"id-{len(self.sent)}")


class RaisingClient:
    """A stand-in boto3 client whose every call raises ``error`` (transport failures Stubber cannot script)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def send_email(self, **_: Any) -> Any:
        raise self.error

    def publish(self, **_: Any) -> Any:
        raise self.error


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


# -- SES ------------------------------------------------------------------------------------------------------------


def test_ses_sends_a_simple_utf8_email(aws: dict[str, Any]) -> None:
    result = SesEmailSender(aws["sesv2"], SENDER).send(email())

    assert result.outcome is DeliveryOutcome.DELIVERED and result.provider_message_id
    [sent] = sent_emails()
    assert sent.id == result.provider_message_id
    assert (sent.source, sent.destinations, sent.subject, sent.body) == (
        SENDER,
        {"ToAddresses": [EMAIL]},
        "당첨을 축하합니다 🎉",
        "홍길동님, 1등에 당첨되셨습니다.\n감사합니다.",
    )


def test_ses_request_shape() -> None:
    client = offline_client("sesv2")
    with Stubber(client) as stub:
        stub.add_response(
            "send_email",
            {"MessageId": "m-1"},
            {
                "FromEmailAddress": SENDER,
                "Destination": {"ToAddresses": ["kim@xn--3e0b707e.kr"]},  # an IDN domain goes as punycode
                "Content": {
                    "Simple": {
                        "Subject": {"Data": "제목", "Charset": "UTF-8"},
                        "Body": {"Text": {"Data": "본문", "Charset": "UTF-8"}},
                    }
                },
                "EmailTags": [{"Name": "notification", "Value": "send-1_r1_0"}],
                "ConfigurationSetName": "win-events",
            },
        )
        result = SesEmailSender(client, SENDER, configuration_set="win-events").send(
            email("send-1:r1:0", "kim@한국.kr", "제목", "본문")
        )
        stub.assert_no_pending_responses()
    assert result == DeliveryResult(DeliveryOutcome.DELIVERED, "m-1")


def test_ses_unverified_sender_is_rejected(aws: dict[str, Any]) -> None:
    with pytest.raises(ProviderRejected) as raised:
        SesEmailSender(aws["sesv2"], "someone@unverified.example").send(email())
    assert (raised.value.status, raised.value.code) == (400, "MessageRejected")
    assert "unverified.example" not in str(raised.value)  # SES's message names addresses; ours does not
    assert sent_emails() == []


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("TooManyRequestsException", 429),
        ("ThrottlingException", 400),
        ("Throttling", 400),
        ("InternalFailure", 500),
        ("ServiceUnavailable", 503),
        ("SomethingNew", 502),
        ("RequestTimeout", 408),
    ],
)
def test_ses_throttling_and_5xx_are_unavailable(code: str, status: int) -> None:
    client = offline_client("sesv2")
    with Stubber(client) as stub:
        stub.add_client_error(
            "send_email",
            service_error_code=code,
            service_message="Maximum sending rate exceeded",
            http_status_code=status,
        )
        with pytest.raises(ProviderUnavailable):
            SesEmailSender(client, SENDER).send(email())


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("MessageRejected", 400),
        ("MailFromDomainNotVerifiedException", 400),
        ("AccountSuspendedException", 400),
        ("SendingPausedException", 400),
        ("NotFoundException", 404),
        ("BadRequestException", 400),
        ("LimitExceededException", 400),
        ("AccessDeniedException", 403),
        ("UnrecognizedClientException", 403),
    ],
)
def test_ses_refusals_are_rejected(code: str, status: int) -> None:
    client = offline_client("sesv2")
    with Stubber(client) as stub:
        stub.add_client_error(
            "send_email", service_error_code=code, service_message="Illegal address winner@x", http_status_code=status
        )
        with pytest.raises(ProviderRejected) as raised:
            SesEmailSender(client, SENDER).send(email())
    assert not isinstance(raised.value, ProviderUnavailable)
    assert (raised.value.status, raised.value.code) == (status, code)
    assert "winner@x" not in str(raised.value)


@pytest.mark.parametrize(
    "error",
    [
        EndpointConnectionError(endpoint_url="https://email.example"),
        ConnectTimeoutError(endpoint_url="https://email.example"),
        ReadTimeoutError(endpoint_url="https://email.example"),
        CredentialRetrievalError(provider="container-role", error_msg="timed out"),
    ],
)
def test_transport_failures_are_unavailable(error: Exception) -> None:
    with pytest.raises(ProviderUnavailable):
        SesEmailSender(RaisingClient(error), SENDER).send(email())
    with pytest.raises(ProviderUnavailable):
        SnsSmsSender(RaisingClient(error)).send(sms())


@pytest.mark.parametrize("error", [NoCredentialsError(), ParamValidationError(report="bad")])
def test_client_misconfiguration_is_rejected(error: Exception) -> None:
    with pytest.raises(ProviderRejected) as raised:
        SesEmailSender(RaisingClient(error), SENDER).send(email())
    assert raised.value.code == type(error).__name__


def test_an_unreachable_endpoint_is_unavailable() -> None:
    config = Config(retries={"total_max_attempts": 1}, connect_timeout=1, read_timeout=1)
    client = offline_client("sns", endpoint_url=unused_port_url(), config=config)
    with pytest.raises(ProviderUnavailable):
        SnsSmsSender(client).send(sms())


def test_ses_sends_only_email(aws: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="email"):
        SesEmailSender(aws["sesv2"], SENDER).send(sms())


# -- SNS ------------------------------------------------------------------------------------------------------------


def test_sns_publishes_an_sms_to_the_phone(aws: dict[str, Any]) -> None:
    result = SnsSmsSender(aws["sns"]).send(sms(body="[당첨] 축하합니다"))

    assert result.outcome is DeliveryOutcome.DELIVERED and result.provider_message_id
    assert sent_sms() == [(PHONE, "[당첨] 축하합니다")]


def test_sns_sends_an_lms_as_one_longer_message_with_its_title_first(aws: dict[str, Any]) -> None:
    sender = SnsSmsSender(aws["sns"])
    sender.send(lms(title="당첨 안내", body="본문 " * 200))
    sender.send(lms(key="k2", title=None, body="제목 없는 lms"))

    assert sent_sms() == [(PHONE, "[당첨 안내]\n" + "본문 " * 200), (PHONE, "제목 없는 lms")]
    assert sms_text(lms(title="T", body="B")) == "[T]\nB"


def test_sns_request_shape() -> None:
    client = offline_client("sns")
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
        result = SnsSmsSender(client, sender_id="WINNERS").send(sms(body="본문"))
        stub.assert_no_pending_responses()
    assert result == DeliveryResult(DeliveryOutcome.DELIVERED, "sns-1")


def test_sns_invalid_number_is_rejected(aws: dict[str, Any]) -> None:
    with pytest.raises(ProviderRejected) as raised:
        SnsSmsSender(aws["sns"]).send(sms(phone="01012345678"))  # not E.164
    assert raised.value.status == 400


@pytest.mark.parametrize(
    ("code", "status", "transient"),
    [
        ("Throttled", 429, True),
        ("ThrottledException", 400, True),
        ("InternalError", 500, True),
        ("KMSThrottling", 400, True),
        ("AuthorizationError", 403, False),
        ("InvalidParameter", 400, False),
        ("OptedOut", 400, False),
    ],
)
def test_sns_error_mapping(code: str, status: int, transient: bool) -> None:
    client = offline_client("sns")
    with Stubber(client) as stub:
        stub.add_client_error("publish", service_error_code=code, http_status_code=status)
        with pytest.raises(ProviderUnavailable if transient else ProviderRejected):
            SnsSmsSender(client).send(sms())


def test_sns_sends_only_sms_and_lms(aws: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="sms and lms"):
        SnsSmsSender(aws["sns"]).send(email())


# -- routing --------------------------------------------------------------------------------------------------------


def test_router_hands_each_channel_to_its_sender() -> None:
    phones, emails, long_ones = RecordingSender(), RecordingSender(), RecordingSender()
    ChannelRouter(sms=phones, email=emails).send(lms())
    ChannelRouter(sms=phones, email=emails, lms=long_ones).send(lms(key="k2"))
    ChannelRouter(sms=phones, email=emails, lms=long_ones).send(email())
    ChannelRouter(sms=phones, email=emails, lms=long_ones).send(sms())
    assert [m.channel for m in phones.sent] == ["lms", "sms"]
    assert [m.channel for m in long_ones.sent] == ["lms"]
    assert [m.channel for m in emails.sent] == ["email"]


# -- sandbox --------------------------------------------------------------------------------------------------------


@pytest.fixture
def recording() -> RecordingSender:
    return RecordingSender()


@pytest.fixture
def sandbox(aws: dict[str, Any], recording: RecordingSender) -> SandboxNotificationSender:
    return SandboxNotificationSender(recording, aws["dynamodb"], TABLE)


@pytest.mark.parametrize(
    "message",
    [
        sms(phone="+821012340000"),
        lms(phone="+821012340000"),
        email(address="nobody@invalid.example"),
        email(address="X@Invalid.Example"),
    ],
)
def test_sandbox_unknown_recipients_are_not_found(
    sandbox: SandboxNotificationSender, recording: RecordingSender, message: NotificationMessage
) -> None:
    assert sandbox.send(message) == DeliveryResult(DeliveryOutcome.RECIPIENT_NOT_FOUND)
    assert recording.sent == []


@pytest.mark.parametrize(
    "message", [sms(phone="+821012349999"), lms(phone="+821012349999"), email(address="winner@fail.example")]
)
def test_sandbox_failing_recipients_always_fail(
    sandbox: SandboxNotificationSender, recording: RecordingSender, message: NotificationMessage
) -> None:
    for _ in range(4):
        with pytest.raises(ProviderUnavailable):
            sandbox.send(message)
    assert recording.sent == []
    assert sandbox.calls(message.idempotency_key) == 4


def test_sandbox_8888_fails_twice_per_key_even_across_instances(
    aws: dict[str, Any], recording: RecordingSender
) -> None:
    flaky = sms("send-1:r2:0", phone="+821012348888")
    with pytest.raises(ProviderUnavailable):  # a Lambda instance tries once and dies
        SandboxNotificationSender(recording, aws["dynamodb"], TABLE).send(flaky)
    with pytest.raises(ProviderUnavailable):  # another one, after a restart
        SandboxNotificationSender(RecordingSender(), aws["dynamodb"], TABLE).send(flaky)
    third = SandboxNotificationSender(recording, aws["dynamodb"], TABLE)
    result = third.send(flaky)

    assert result == DeliveryResult(DeliveryOutcome.DELIVERED, "id-1")
    assert recording.sent == [flaky]
    assert third.calls("send-1:r2:0") == 3
    with pytest.raises(ProviderUnavailable):  # a new key (a resend round) starts over
        third.send(sms("send-1:r2:1", phone="+821012348888"))


def test_sandbox_delivers_others_and_is_idempotent_per_key(
    sandbox: SandboxNotificationSender, recording: RecordingSender, aws: dict[str, Any]
) -> None:
    first = sandbox.send(sms("k1"))
    replay = SandboxNotificationSender(RecordingSender(), aws["dynamodb"], TABLE).send(sms("k1"))
    other = sandbox.send(email("k2"))

    assert first == replay == DeliveryResult(DeliveryOutcome.DELIVERED, "id-1")
    assert other == DeliveryResult(DeliveryOutcome.DELIVERED, "id-2")
    assert recording.sent == [sms("k1"), email("k2")]  # delivered once per key
    item = aws["dynamodb"].get_item(
        TableName=TABLE, Key={"pk": {"S": "SANDBOX_PROVIDER#NOTIFY#k1"}, "sk": {"S": "NOTIFY"}}
    )["Item"]
    assert item["calls"]["N"] == "2" and "expires_at" in item
    assert PHONE not in str(item) and "축하" not in str(item)  # the provider keeps a digest, not the message


def test_sandbox_key_reused_for_another_message_is_rejected(
    sandbox: SandboxNotificationSender, recording: RecordingSender
) -> None:
    sandbox.send(sms("k1"))
    with pytest.raises(ProviderRejected) as raised:
        sandbox.send(sms("k1", phone="+821099998877"))
    assert (raised.value.status, raised.value.code) == (409, "IDEMPOTENCY_KEY_REUSED")
    assert len(recording.sent) == 1


def test_sandbox_passes_on_the_real_senders_failures(aws: dict[str, Any]) -> None:
    class Down:
        def send(self, message: NotificationMessage) -> DeliveryResult:
            raise ProviderUnavailable("down")

    sandbox = SandboxNotificationSender(Down(), aws["dynamodb"], TABLE)
    with pytest.raises(ProviderUnavailable):
        sandbox.send(sms("k1"))
    up = RecordingSender()
    assert SandboxNotificationSender(up, aws["dynamodb"], TABLE).send(sms("k1")).outcome is DeliveryOutcome.DELIVERED
    assert up.sent == [sms("k1")]  # nothing was recorded as delivered by the failed attempt


def test_sandbox_in_front_of_ses_and_sns(aws: dict[str, Any]) -> None:
    """The sandbox as deployed: deliverable messages reach SES / SNS (MiniStack there, moto here)."""
    real = ChannelRouter(sms=SnsSmsSender(aws["sns"]), email=SesEmailSender(aws["sesv2"], SENDER))
    sandbox = SandboxNotificationSender(real, aws["dynamodb"], TABLE)

    assert sandbox.send(sms("a")).outcome is DeliveryOutcome.DELIVERED
    assert sandbox.send(lms("b", title="안내", body="긴 본문")).outcome is DeliveryOutcome.DELIVERED
    assert sandbox.send(email("c")).outcome is DeliveryOutcome.DELIVERED
    assert sandbox.send(email("c")).outcome is DeliveryOutcome.DELIVERED  # a replay: not sent again
    assert sandbox.send(sms("d", phone="+821012340000")).outcome is DeliveryOutcome.RECIPIENT_NOT_FOUND
    with pytest.raises(ProviderUnavailable):
        sandbox.send(email("e", address="a@fail.example"))

    assert sent_sms() == [(PHONE, "당첨을 축하합니다!"), (PHONE, "[안내]\n긴 본문")]
    assert [(m.destinations["ToAddresses"], m.subject) for m in sent_emails()] == [([EMAIL], "당첨을 축하합니다 🎉")]
