"""SesBulkEmailSender against botocore's Stubber: moto 5.2's sesv2 has no SendBulkEmail, so the Stubber checks every
request against the real sesv2 service model and answers with the documented response shape."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ReadTimeoutError
from botocore.stub import ANY, Stubber

from shared.adapters import aws_clients
from shared.adapters.ses_email import ATTEMPT_TAG, BULK_EMAIL_LIMIT, TEMPLATE, SesBulkEmailSender
from shared.domain.notifications.sender import MessageResult, MessageStatus, NotificationMessage
from shared.errors import ProviderRejected, ProviderUnavailable

REGION = "ap-northeast-2"
SENDER = "no-reply@win.example"


def key(n: int) -> str:
    return f"nsnd_0193abcdef12aabbccddeeff-3-r{n:05d}-1"


def email(
    n: int, body: str = "홍길동님, 1등에 당첨되셨습니다.", title: str = "당첨을 축하합니다 🎉"
) -> NotificationMessage:
    return NotificationMessage(key(n), "email", f"winner{n}@example.com", body, title=title)


def client() -> Any:
    return boto3.client(
        "sesv2", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x", config=aws_clients.SINGLE_ATTEMPT
    )


def success(count: int, start: int = 0) -> dict[str, Any]:
    return {"BulkEmailEntryResults": [{"Status": "SUCCESS", "MessageId": f"ses-{start + i}"} for i in range(count)]}


def entries(request: dict[str, Any]) -> list[dict[str, Any]]:
    return list(request["BulkEmailEntries"])


def template_data(entry: dict[str, Any]) -> dict[str, str]:
    data: dict[str, str] = json.loads(
        entry["ReplacementEmailContent"]["ReplacementTemplate"]["ReplacementTemplateData"]
    )
    return data


class Recorder:
    """Stubber checks shapes; this keeps the requests themselves for the assertions."""

    def __init__(self, sesv2: Any) -> None:
        self.requests: list[dict[str, Any]] = []
        sesv2.meta.events.register("provide-client-params.sesv2.SendBulkEmail", self._record)

    def _record(self, params: dict[str, Any], **_: Any) -> None:
        self.requests.append(json.loads(json.dumps(params)))


def test_120_messages_go_in_3_calls_of_at_most_50_and_every_one_is_answered() -> None:
    sesv2 = client()
    recorder = Recorder(sesv2)
    messages = [email(n) for n in range(120)]
    with Stubber(sesv2) as stub:
        for start, count in ((0, 50), (50, 50), (100, 20)):
            stub.add_response("send_bulk_email", success(count, start), {**_any_request(), "BulkEmailEntries": ANY})
        results = SesBulkEmailSender(sesv2, SENDER).send_batch("batch-1", messages)
        stub.assert_no_pending_responses()
    assert [len(entries(r)) for r in recorder.requests] == [50, 50, 20]
    assert BULK_EMAIL_LIMIT == 50
    assert results == {key(n): MessageResult(MessageStatus.ACCEPTED, f"ses-{n}", code="SUCCESS") for n in range(120)}
    sent_to = [e["Destination"]["ToAddresses"] for r in recorder.requests for e in entries(r)]
    assert sent_to == [[f"winner{n}@example.com"] for n in range(120)]


def _any_request() -> dict[str, Any]:
    return {"FromEmailAddress": SENDER, "DefaultContent": ANY, "BulkEmailEntries": ANY}


def test_the_request_is_an_inline_template_filled_per_entry_with_the_attempt_tag() -> None:
    sesv2 = client()
    recorder = Recorder(sesv2)
    body = '{name}님 {{body}} {{{raw}}} {{#if x}}y{{/if}} \\ " <b>&amp;</b>\n둘째 줄'
    subject = "{{subject}} 당첨 🎉"
    with Stubber(sesv2) as stub:
        stub.add_response("send_bulk_email", success(1), {**_any_request(), "ConfigurationSetName": "win-email"})
        SesBulkEmailSender(sesv2, SENDER, configuration_set="win-email").send_batch(
            "batch-1", [email(7, body=body, title=subject)]
        )
    (request,) = recorder.requests
    assert request["DefaultContent"]["Template"]["TemplateContent"] == {"Subject": "{{subject}}", "Text": "{{body}}"}
    assert TEMPLATE == {"Subject": "{{subject}}", "Text": "{{body}}"}
    assert "Html" not in request["DefaultContent"]["Template"]["TemplateContent"]
    (entry,) = entries(request)
    # The rendered text travels as JSON string values, byte for byte: braces, quotes, Korean and emoji.
    assert template_data(entry) == {"subject": subject, "body": body}
    assert "당첨" in entry["ReplacementEmailContent"]["ReplacementTemplate"]["ReplacementTemplateData"]
    assert entry["ReplacementTags"] == [{"Name": ATTEMPT_TAG, "Value": key(7)}]
    assert request["ConfigurationSetName"] == "win-email"


def test_without_a_configuration_set_none_is_named() -> None:
    sesv2 = client()
    recorder = Recorder(sesv2)
    with Stubber(sesv2) as stub:
        stub.add_response("send_bulk_email", success(1), _any_request())
        SesBulkEmailSender(sesv2, SENDER).send_batch("batch-1", [email(1)])
    assert "ConfigurationSetName" not in recorder.requests[0]


def test_an_internationalized_domain_goes_as_punycode() -> None:
    sesv2 = client()
    recorder = Recorder(sesv2)
    with Stubber(sesv2) as stub:
        stub.add_response("send_bulk_email", success(1), _any_request())
        SesBulkEmailSender(sesv2, SENDER).send_batch(
            "b", [NotificationMessage(key(1), "email", "winner@당첨.한국", "본문", title="제목")]
        )
    assert entries(recorder.requests[0])[0]["Destination"]["ToAddresses"] == ["winner@xn--ok1b200c.xn--3e0b707e"]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("SUCCESS", MessageStatus.ACCEPTED),
        ("TRANSIENT_FAILURE", MessageStatus.RETRY),
        ("ACCOUNT_THROTTLED", MessageStatus.RETRY),
        ("ACCOUNT_DAILY_QUOTA_EXCEEDED", MessageStatus.RETRY),
        ("MESSAGE_REJECTED", MessageStatus.REJECTED),
        ("INVALID_PARAMETER", MessageStatus.REJECTED),
        ("FAILED", MessageStatus.REJECTED),
        ("MAIL_FROM_DOMAIN_NOT_VERIFIED", MessageStatus.REJECTED),
        ("CONFIGURATION_SET_NOT_FOUND", MessageStatus.REJECTED),
        ("TEMPLATE_NOT_FOUND", MessageStatus.REJECTED),
        ("ACCOUNT_SUSPENDED", MessageStatus.REJECTED),
        ("ACCOUNT_SENDING_PAUSED", MessageStatus.REJECTED),
        ("CONFIGURATION_SET_SENDING_PAUSED", MessageStatus.REJECTED),
        ("INVALID_SENDING_POOL_NAME", MessageStatus.REJECTED),
    ],
)
def test_each_entry_status_maps_to_a_message_status(status: str, expected: MessageStatus) -> None:
    sesv2 = client()
    answer: dict[str, Any] = {"Status": status}
    if status == "SUCCESS":
        answer["MessageId"] = "ses-1"
    else:
        answer["Error"] = "refused for winner1@example.com"
    with Stubber(sesv2) as stub:
        stub.add_response("send_bulk_email", {"BulkEmailEntryResults": [answer]}, _any_request())
        result = SesBulkEmailSender(sesv2, SENDER).send_batch("b", [email(1)])[key(1)]
    assert result.status is expected
    assert result.code == status
    assert result.provider_message_id == ("ses-1" if status == "SUCCESS" else None)


def test_a_mixed_answer_maps_each_entry_and_a_missing_answer_is_retry() -> None:
    sesv2 = client()
    response = {
        "BulkEmailEntryResults": [
            {"Status": "SUCCESS", "MessageId": "ses-0"},
            {"Status": "ACCOUNT_THROTTLED", "Error": "slow down"},
            {"Status": "MESSAGE_REJECTED", "Error": "virus"},
        ]
    }
    with Stubber(sesv2) as stub:
        stub.add_response("send_bulk_email", response, _any_request())
        results = SesBulkEmailSender(sesv2, SENDER).send_batch("b", [email(n) for n in range(4)])
    assert {k: r.status for k, r in results.items()} == {
        key(0): MessageStatus.ACCEPTED,
        key(1): MessageStatus.RETRY,
        key(2): MessageStatus.REJECTED,
        key(3): MessageStatus.RETRY,
    }


@pytest.mark.parametrize(
    ("code", "http", "raised"),
    [
        ("TooManyRequestsException", 429, ProviderUnavailable),
        ("InternalFailure", 500, ProviderUnavailable),
        ("MessageRejected", 400, ProviderRejected),
        ("MailFromDomainNotVerifiedException", 400, ProviderRejected),
        ("AccountSuspendedException", 400, ProviderRejected),
        ("SendingPausedException", 400, ProviderRejected),
        ("NotFoundException", 404, ProviderRejected),
        ("BadRequestException", 400, ProviderRejected),
    ],
)
def test_a_whole_call_failure_of_the_first_call_raises(code: str, http: int, raised: type[Exception]) -> None:
    sesv2 = client()
    with Stubber(sesv2) as stub:
        stub.add_client_error("send_bulk_email", code, "about winner1@example.com", http)
        with pytest.raises(raised) as failure:
            SesBulkEmailSender(sesv2, SENDER).send_batch("b", [email(1)])
    assert "winner1@example.com" not in str(failure.value)


def test_a_later_call_failing_keeps_what_ses_took_and_makes_no_further_call() -> None:
    sesv2 = client()
    recorder = Recorder(sesv2)
    with Stubber(sesv2) as stub:
        stub.add_response("send_bulk_email", success(50), _any_request())
        stub.add_client_error("send_bulk_email", "TooManyRequestsException", "slow down", 429)
        results = SesBulkEmailSender(sesv2, SENDER).send_batch("b", [email(n) for n in range(120)])
        stub.assert_no_pending_responses()
    assert len(recorder.requests) == 2  # the third call is not made
    assert all(results[key(n)].status is MessageStatus.ACCEPTED for n in range(50))
    assert {results[key(n)].status for n in range(50, 120)} == {MessageStatus.RETRY}
    assert results[key(60)].code == "TooManyRequestsException"


class _TimingOut:
    """A client whose second SendBulkEmail times out after SES may have taken it (Stubber cannot script that)."""

    def __init__(self) -> None:
        self.calls = 0

    def send_bulk_email(self, **request: Any) -> dict[str, Any]:
        self.calls += 1
        if self.calls == 2:
            raise ReadTimeoutError(endpoint_url="https://email.ap-northeast-2.amazonaws.com")
        return success(len(request["BulkEmailEntries"]))


def test_a_read_timeout_is_unavailable_first_and_retry_later() -> None:
    first = _TimingOut()
    first.calls = 1  # the next call times out
    with pytest.raises(ProviderUnavailable):
        SesBulkEmailSender(first, SENDER).send_batch("b", [email(1)])
    later = _TimingOut()
    results = SesBulkEmailSender(later, SENDER).send_batch("b", [email(n) for n in range(60)])
    assert results[key(0)].status is MessageStatus.ACCEPTED
    assert results[key(55)] == MessageResult(MessageStatus.RETRY, code="ReadTimeoutError")


def test_a_batch_is_email_only_with_tag_safe_unique_keys() -> None:
    sender = SesBulkEmailSender(client(), SENDER)
    with pytest.raises(ValueError, match="email"):
        sender.send_batch("b", [NotificationMessage(key(1), "sms", "+821012345678", "body")])
    with pytest.raises(ValueError, match="tag value"):
        sender.send_batch("b", [NotificationMessage("send-1:r1:0", "email", "a@example.com", "b", title="t")])
    with pytest.raises(ValueError, match="once"):
        sender.send_batch("b", [email(1), email(1)])
    with pytest.raises(ValueError, match="sender"):
        SesBulkEmailSender(client(), "")
