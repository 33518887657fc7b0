"""SES email events as EventBridge delivers them (shapes from the SES event-publishing examples), their reports,
and the sandbox's events of the same shape round-tripping to the report they stand for."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from shared.adapters.ses_events import (
    DETAIL_TYPES,
    SANDBOX_SOURCE,
    SandboxSesEventBus,
    report_from_ses_event,
    sandbox_ses_event,
)
from shared.models.reports import DeliveryReport

ATTEMPT = "nsnd_0193abcdef12aabbccddeeff-3-r00150-1"
MESSAGE_ID = "010001812345abcd-1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d-000000"
SENT = "2026-05-01T03:00:00.123Z"


def mail() -> dict[str, Any]:
    return {
        "timestamp": SENT,
        "source": "no-reply@win.example",
        "sourceArn": "arn:aws:ses:ap-northeast-2:123456789012:identity/win.example",
        "sendingAccountId": "123456789012",
        "messageId": MESSAGE_ID,
        "destination": ["winner@example.com"],
        "headersTruncated": False,
        "headers": [{"name": "Subject", "value": "당첨을 축하합니다"}],
        "commonHeaders": {"from": ["no-reply@win.example"], "to": ["winner@example.com"], "subject": "당첨"},
        "tags": {
            "ses:configuration-set": ["win-notifications-email"],
            "ses:source-ip": ["192.0.2.0"],
            "ses:from-domain": ["win.example"],
            "ses:caller-identity": ["win-notifications-SendNotificationFunction"],
            "attempt": [ATTEMPT],
        },
    }


def ses_event(detail_type: str, detail: dict[str, Any], time: str = "2026-05-01T03:00:05Z") -> dict[str, Any]:
    return {
        "version": "0",
        "id": "e4b2b1f0-8a33-4e4d-9c53-2d0c2d7e9a11",
        "detail-type": detail_type,
        "source": "aws.ses",
        "account": "123456789012",
        "time": time,
        "region": "ap-northeast-2",
        "resources": ["arn:aws:ses:ap-northeast-2:123456789012:configuration-set/win-notifications-email"],
        "detail": detail,
    }


def delivery() -> dict[str, Any]:
    return ses_event(
        "Email Delivered",
        {
            "eventType": "Delivery",
            "mail": mail(),
            "delivery": {
                "timestamp": "2026-05-01T03:00:01.456Z",
                "processingTimeMillis": 1333,
                "recipients": ["winner@example.com"],
                "smtpResponse": "250 2.6.0 Message received",
                "remoteMtaIp": "198.51.100.7",
                "reportingMTA": "a8-70.smtp-out.amazonses.com",
            },
        },
    )


def bounce(bounce_type: str, subtype: str) -> dict[str, Any]:
    return ses_event(
        "Email Bounced",
        {
            "eventType": "Bounce",
            "mail": mail(),
            "bounce": {
                "bounceType": bounce_type,
                "bounceSubType": subtype,
                "bouncedRecipients": [
                    {
                        "emailAddress": "winner@example.com",
                        "action": "failed",
                        "status": "5.1.1",
                        "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                    }
                ],
                "timestamp": "2026-05-01T03:00:02.789Z",
                "feedbackId": "0100018123-abcd-000000",
                "reportingMTA": "dsn; a8-70.smtp-out.amazonses.com",
            },
        },
    )


def complaint() -> dict[str, Any]:
    return ses_event(
        "Email Complaint Received",
        {
            "eventType": "Complaint",
            "mail": mail(),
            "complaint": {
                "complainedRecipients": [{"emailAddress": "winner@example.com"}],
                "timestamp": "2026-05-01T04:00:00.000Z",
                "feedbackId": "0100018124-abcd-000000",
                "complaintFeedbackType": "abuse",
                "arrivalDate": "2026-05-01T04:00:00.000Z",
            },
        },
    )


def reject() -> dict[str, Any]:
    return ses_event("Email Rejected", {"eventType": "Reject", "mail": mail(), "reject": {"reason": "Bad content"}})


def rendering_failure() -> dict[str, Any]:
    return ses_event(
        "Email Rendering Failed",
        {
            "eventType": "Rendering Failure",
            "mail": mail(),
            "failure": {"errorMessage": "Attribute 'body' is not present in the rendering data.", "templateName": ""},
        },
    )


def not_final(event_type: str, detail_type: str, field: str, record: dict[str, Any]) -> dict[str, Any]:
    return ses_event(detail_type, {"eventType": event_type, "mail": mail(), field: record})


def report(outcome: str, at: str, code: str) -> DeliveryReport:
    return DeliveryReport(
        attempt=ATTEMPT, outcome=outcome, occurred_at=datetime.fromisoformat(at), provider="ses", code=code
    )


def test_a_delivery_is_delivered_when_the_receiving_server_took_it() -> None:
    assert report_from_ses_event(delivery()) == report("DELIVERED", "2026-05-01T03:00:01.456Z", "Delivery")


@pytest.mark.parametrize("subtype", ["General", "NoEmail", "Suppressed", "OnAccountSuppressionList"])
def test_a_permanent_bounce_of_a_missing_or_suppressed_mailbox_is_recipient_not_found(subtype: str) -> None:
    assert report_from_ses_event(bounce("Permanent", subtype)) == report(
        "RECIPIENT_NOT_FOUND", "2026-05-01T03:00:02.789Z", f"Bounce:Permanent:{subtype}"
    )


@pytest.mark.parametrize(
    ("bounce_type", "subtype"),
    [
        ("Permanent", "UnsubscribedRecipient"),
        ("Undetermined", "Undetermined"),
        ("Transient", "MailboxFull"),  # published only once SES has stopped retrying
        ("Transient", "General"),
    ],
)
def test_any_other_bounce_is_undelivered(bounce_type: str, subtype: str) -> None:
    assert report_from_ses_event(bounce(bounce_type, subtype)) == report(
        "UNDELIVERED", "2026-05-01T03:00:02.789Z", f"Bounce:{bounce_type}:{subtype}"
    )


def test_a_reject_and_a_rendering_failure_are_undelivered_at_the_send_time() -> None:
    assert report_from_ses_event(reject()) == report("UNDELIVERED", SENT, "Reject")
    assert report_from_ses_event(rendering_failure()) == report("UNDELIVERED", SENT, "RenderingFailure")


@pytest.mark.parametrize(
    "event",
    [
        not_final("DeliveryDelay", "Email Delivery Delayed", "deliveryDelay", {"delayType": "MailboxFull"}),
        not_final("Send", "Email Sent", "send", {}),
        not_final("Open", "Email Opened", "open", {"timestamp": "2026-05-01T05:00:00.000Z"}),
        not_final("Click", "Email Clicked", "click", {"link": "https://win.example/"}),
        complaint(),  # delivered already: its Delivery event settles it
    ],
)
def test_events_that_are_not_a_final_outcome_settle_nothing(event: dict[str, Any]) -> None:
    assert report_from_ses_event(event) is None


def test_only_ses_and_the_sandbox_are_read() -> None:
    forged = delivery() | {"source": "someone.else"}
    assert report_from_ses_event(forged) is None


def test_an_email_without_the_attempt_tag_settles_nothing() -> None:
    event = delivery()
    del event["detail"]["mail"]["tags"]["attempt"]
    assert report_from_ses_event(event) is None


def test_an_event_from_ses_without_the_documented_shape_is_an_error_not_a_silent_loss() -> None:
    event = delivery()
    del event["detail"]["mail"]["messageId"]
    with pytest.raises(ValidationError):
        report_from_ses_event(event)
    bounced = bounce("Permanent", "General")
    del bounced["detail"]["bounce"]
    with pytest.raises(ValueError, match="bounce"):
        report_from_ses_event(bounced)


def test_without_its_own_timestamp_a_delivery_takes_the_events_time() -> None:
    event = delivery()
    del event["detail"]["delivery"]["timestamp"]
    settled = report_from_ses_event(event)
    assert settled is not None
    assert settled.occurred_at == datetime(2026, 5, 1, 3, 0, 5, tzinfo=UTC)


# -- the sandbox's events ---------------------------------------------------------------------------------------------

AT = datetime(2026, 5, 1, 3, 1, 2, 345000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("outcome", "code"),
    [("DELIVERED", "Delivery"), ("RECIPIENT_NOT_FOUND", "Bounce:Permanent:General"), ("UNDELIVERED", "Reject")],
)
def test_a_sandbox_event_reads_back_as_the_report_it_stands_for(outcome: str, code: str) -> None:
    event = sandbox_ses_event(ATTEMPT, "sandbox-msg-1", outcome, AT)  # type: ignore[arg-type]
    settled = report_from_ses_event(json.loads(json.dumps(event)))  # as it comes off the queue
    assert settled == DeliveryReport(attempt=ATTEMPT, outcome=outcome, occurred_at=AT, provider="sandbox", code=code)


def test_a_sandbox_event_has_the_real_shape_with_its_own_source() -> None:
    real = {
        "DELIVERED": delivery(),
        "RECIPIENT_NOT_FOUND": bounce("Permanent", "General"),
        "UNDELIVERED": reject(),
    }
    for outcome, event in real.items():
        sandbox = sandbox_ses_event(ATTEMPT, "sandbox-msg-1", outcome, AT)  # type: ignore[arg-type]
        assert sandbox["source"] == SANDBOX_SOURCE
        assert set(sandbox) == set(event)
        assert sandbox["detail-type"] == event["detail-type"] == DETAIL_TYPES[event["detail"]["eventType"]]
        assert set(sandbox["detail"]) == set(event["detail"])
        assert set(event["detail"]["mail"]) - set(sandbox["detail"]["mail"]) <= {
            "sourceArn",
            "headers",
            "commonHeaders",
        }
        record = {"Delivery": "delivery", "Bounce": "bounce", "Reject": "reject"}[event["detail"]["eventType"]]
        assert set(sandbox["detail"][record]) <= set(event["detail"][record])
        assert sandbox["detail"]["mail"]["tags"]["attempt"] == [ATTEMPT]


def test_the_same_sandbox_report_is_the_same_event() -> None:
    assert sandbox_ses_event(ATTEMPT, "m", "DELIVERED", AT) == sandbox_ses_event(ATTEMPT, "m", "DELIVERED", AT)
    assert (
        sandbox_ses_event(ATTEMPT, "m", "DELIVERED", AT)["id"]
        != sandbox_ses_event(ATTEMPT, "m", "UNDELIVERED", AT)["id"]
    )


class _RecordingEvents:
    def __init__(self) -> None:
        self.calls: list[list[dict[str, Any]]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(Entries)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": str(i)} for i in range(len(Entries))]}


def test_the_sandbox_bus_puts_the_events_on_the_default_bus_ten_at_a_time() -> None:
    client = _RecordingEvents()
    events = [sandbox_ses_event(ATTEMPT, f"m-{n}", "DELIVERED", AT) for n in range(12)]
    SandboxSesEventBus(client).put(events)
    assert [len(call) for call in client.calls] == [10, 2]
    entry = client.calls[0][0]
    assert entry["EventBusName"] == "default"
    assert entry["Source"] == SANDBOX_SOURCE
    assert entry["DetailType"] == "Email Delivered"
    assert json.loads(entry["Detail"]) == events[0]["detail"]
    assert entry["Time"] == datetime(2026, 5, 1, 3, 1, 2, tzinfo=UTC)


def test_a_refused_put_raises_so_the_reports_are_put_again() -> None:
    class Refusing(_RecordingEvents):
        def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            return {"FailedEntryCount": 1, "Entries": []}

    with pytest.raises(RuntimeError, match="refused"):
        SandboxSesEventBus(Refusing()).put([sandbox_ses_event(ATTEMPT, "m", "DELIVERED", AT)])
