"""SES email events, as EventBridge delivers them, turned into DeliveryReports; and the sandbox's own events of the
same shape, so the sandbox's reports take the same path.

The configuration set (template.yaml, EmailConfigurationSet) publishes each message's events to the default
EventBridge bus; a rule forwards them to DeliveryReportQueue, whose consumer calls ``report_from_ses_event`` on
each one. The message is found by the ``attempt`` tag that SesBulkEmailSender put on it (shared.adapters.ses_email).

What an event says, and what it becomes:

- ``Delivery`` (detail-type Email Delivered): DELIVERED, at ``delivery.timestamp``.
- ``Bounce`` (Email Bounced) Permanent, subtype General, NoEmail, Suppressed or OnAccountSuppressionList:
  RECIPIENT_NOT_FOUND. Permanent of another subtype, Transient (SES publishes a soft bounce only once it has
  stopped retrying) or Undetermined: UNDELIVERED.
- ``Reject`` (Email Rejected: SES found a virus) and ``Rendering Failure`` (Email Rendering Failed): UNDELIVERED.
- ``DeliveryDelay``, ``Send``, ``Open``, ``Click``, ``Subscription``: nothing, not final.
- ``Complaint`` (Email Complaint Received): nothing. SES sends it for a message that was delivered (the recipient
  marked it as spam); its Delivery event settles it, and a refund would pay back a delivered email.

Provider facts, and where they were checked:

- EventBridge detail-types and the source ``aws.ses``, default bus only, best-effort delivery, possibly out of
  order: https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-ses.html,
  https://docs.aws.amazon.com/ses/latest/dg/monitoring-eventbridge.html, and the CloudFormation
  EventBridgeDestination ("Only the default bus is supported").
- ``detail`` is the event-publishing record: ``eventType`` one of Bounce, Complaint, Delivery, Send, Reject, Open,
  Click, Rendering Failure, DeliveryDelay, Subscription; ``mail`` {timestamp, messageId, destination, tags (name ->
  list of values), ...}; ``bounce`` {bounceType Undetermined/Permanent/Transient, bounceSubType, bouncedRecipients,
  timestamp}; ``delivery`` {timestamp, recipients, smtpResponse}; ``reject`` {reason}; ``failure`` {errorMessage,
  templateName}: https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-contents.html and its
  examples page. Public code consuming EventBridge SES events shows the same record under ``detail``
  (e.g. the wraps.dev EventBridge docs, https://wraps.dev/docs/infrastructure/events).
- Permanent bounce subtypes General, NoEmail, Suppressed, OnAccountSuppressionList (the address is on SES's or the
  account's suppression list because it bounced before); Transient subtypes General, MailboxFull,
  MessageTooLarge, ContentRejected, AttachmentRejected: the same page's bounce types table. "Soft bounces are only
  included when SES fails to deliver the email after retrying for a period of time"
  (https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_EventDestination.html).

A Transient bounce is a final non-delivery of this message (a resend may still succeed: PROVIDER_ERROR is
resendable). Should one follow a delivered message (an automatic reply reported as a bounce), the recipient's
delivered_at is set already and the domain's first-final-report rule leaves it delivered. Not confirmed: whether
SES ever reports an automatic reply as a Transient bounce.

Not confirmed: whether a receiving server's late bounce can follow a Delivery event for the same message (the
domain's apply-once rule decides which report counts); the exact envelope of an EventBridge SES event beyond the
fields above (no AWS-published full example was found; ``account``, ``region``, ``id`` are EventBridge's own).

The sandbox cannot use ``aws.ses``: EventBridge reserves ``aws.*`` sources for AWS. Its events say
``win-notifications.sandbox`` and are otherwise the real shape, parsed by the same code. Only these two sources
are read; anything else is ignored.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.adapters.events import put_entries
from shared.adapters.ses_email import ATTEMPT_TAG
from shared.domain.clock import to_rfc3339
from shared.models.reports import DeliveryReport, ReportOutcome

logger = logging.getLogger(__name__)

SES_SOURCE = "aws.ses"
SANDBOX_SOURCE = "win-notifications.sandbox"
_PROVIDERS = {SES_SOURCE: "ses", SANDBOX_SOURCE: "sandbox"}

# The detail-types the report rule forwards (template.yaml, DeliveryReportRule), by event type.
DETAIL_TYPES = {
    "Delivery": "Email Delivered",
    "Bounce": "Email Bounced",
    "Complaint": "Email Complaint Received",
    "Reject": "Email Rejected",
    "Rendering Failure": "Email Rendering Failed",
}
_NOT_FOUND_SUBTYPES = frozenset({"General", "NoEmail", "Suppressed", "OnAccountSuppressionList"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Mail(_Model):
    message_id: str = Field(alias="messageId")
    timestamp: datetime | None = None
    tags: dict[str, list[str]] = Field(default_factory=dict)


class _Timed(_Model):
    timestamp: datetime | None = None


class _Bounce(_Model):
    bounce_type: str = Field(alias="bounceType")
    bounce_sub_type: str = Field("", alias="bounceSubType")
    timestamp: datetime | None = None


class _Detail(_Model):
    event_type: str = Field(alias="eventType")
    mail: _Mail
    bounce: _Bounce | None = None
    delivery: _Timed | None = None


class _SesEvent(_Model):
    source: str
    time: datetime | None = None
    detail: _Detail


def report_from_ses_event(event: dict[str, Any]) -> DeliveryReport | None:
    """The report an EventBridge SES event settles, or None when it settles nothing (not final, a complaint, not
    from SES or the sandbox, or an email without our tag). Raises ValueError (pydantic's ValidationError) for an
    event from those sources that does not have the documented shape, so it is kept (dead letters), not lost."""
    provider = _PROVIDERS.get(str(event.get("source")))
    if provider is None:
        return None
    parsed = _SesEvent.model_validate(event)
    detail = parsed.detail
    tagged = detail.mail.tags.get(ATTEMPT_TAG) or []
    attempt = tagged[0] if tagged else None
    if not attempt:
        logger.info("SES event for an email without an attempt tag", extra={"event_type": detail.event_type})
        return None
    settled = _outcome(detail)
    if settled is None:
        return None
    outcome, code, at = settled
    occurred_at = at or parsed.time
    if occurred_at is None:
        raise ValueError("SES event without a timestamp")
    return DeliveryReport(attempt=attempt, outcome=outcome, occurred_at=occurred_at, provider=provider, code=code)


def _outcome(detail: _Detail) -> tuple[ReportOutcome, str, datetime | None] | None:
    if detail.event_type == "Delivery":
        return "DELIVERED", "Delivery", detail.delivery.timestamp if detail.delivery else None
    if detail.event_type == "Bounce":
        if detail.bounce is None:
            raise ValueError("SES Bounce event without its bounce")
        bounce = detail.bounce
        code = f"Bounce:{bounce.bounce_type}:{bounce.bounce_sub_type}"[:64]
        if bounce.bounce_type == "Permanent" and bounce.bounce_sub_type in _NOT_FOUND_SUBTYPES:
            return "RECIPIENT_NOT_FOUND", code, bounce.timestamp
        return "UNDELIVERED", code, bounce.timestamp
    if detail.event_type in ("Reject", "Rendering Failure"):
        # Neither record has a timestamp; both happen when SES takes the message, so the send time is theirs.
        return "UNDELIVERED", detail.event_type.replace(" ", ""), detail.mail.timestamp
    return None  # Send, DeliveryDelay, Open, Click, Subscription: not final; Complaint: delivered already


# -- sandbox --------------------------------------------------------------------------------------------------------

_SANDBOX_SENDER = "no-reply@win-notifications.example"
_SANDBOX_RECIPIENT = "recipient@sandbox.example"  # the sandbox does not know (and reports never carry) the address


def sandbox_ses_event(attempt_key: str, message_id: str, outcome: ReportOutcome, at: datetime) -> dict[str, Any]:
    """An EventBridge event of the real SES shape for the sandbox's report on one message: delivered (Delivery),
    the mailbox does not exist (a Permanent/General bounce, 5.1.1) or undelivered (Reject). The same arguments
    give the same event, id included, as a duplicate report from SES would."""
    when = to_rfc3339(at)
    mail = {
        "timestamp": when,
        "source": _SANDBOX_SENDER,
        "sendingAccountId": "000000000000",
        "messageId": message_id,
        "destination": [_SANDBOX_RECIPIENT],
        "headersTruncated": False,
        "tags": {"ses:configuration-set": ["sandbox"], ATTEMPT_TAG: [attempt_key]},
    }
    detail: dict[str, Any]
    if outcome == "DELIVERED":
        detail = {
            "eventType": "Delivery",
            "mail": mail,
            "delivery": {
                "timestamp": when,
                "processingTimeMillis": 0,
                "recipients": [_SANDBOX_RECIPIENT],
                "smtpResponse": "250 2.0.0 OK",
                "reportingMTA": "sandbox.win-notifications.example",
            },
        }
    elif outcome == "RECIPIENT_NOT_FOUND":
        detail = {
            "eventType": "Bounce",
            "mail": mail,
            "bounce": {
                "bounceType": "Permanent",
                "bounceSubType": "General",
                "bouncedRecipients": [
                    {
                        "emailAddress": _SANDBOX_RECIPIENT,
                        "action": "failed",
                        "status": "5.1.1",
                        "diagnosticCode": "smtp; 550 5.1.1 user unknown",
                    }
                ],
                "timestamp": when,
                "feedbackId": f"sandbox-{message_id}",
                "reportingMTA": "dsn; sandbox.win-notifications.example",
            },
        }
    else:
        detail = {"eventType": "Reject", "mail": mail, "reject": {"reason": "Bad content"}}
    return {
        "version": "0",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{SANDBOX_SOURCE}/{attempt_key}/{message_id}/{outcome}")),
        "detail-type": DETAIL_TYPES[detail["eventType"]],
        "source": SANDBOX_SOURCE,
        "account": "000000000000",
        "time": to_rfc3339(at.replace(microsecond=0)),
        "region": "",
        "resources": [],
        "detail": detail,
    }


class SandboxSesEventBus:
    """Puts sandbox SES events on the default EventBridge bus (where SES puts its own), so DeliveryReportRule
    forwards them to the report queue like real ones."""

    def __init__(self, events_client: Any) -> None:
        self._client = events_client

    def report(self, reports: Sequence[tuple[str, str, ReportOutcome, datetime]]) -> None:
        """The sandbox sender's EmailEvents: (attempt key, message id, outcome, when) as SES events."""
        self.put([sandbox_ses_event(*report) for report in reports])

    def put(self, events: Sequence[dict[str, Any]]) -> None:
        put_entries(
            self._client,
            [
                {
                    "Source": e["source"],
                    "DetailType": e["detail-type"],
                    "Detail": json.dumps(e["detail"], ensure_ascii=False),
                    "Time": datetime.fromisoformat(e["time"]),
                    "Resources": [],
                    "EventBusName": "default",
                }
                for e in events
            ],
        )
