"""The notification delivery port (SMS, LMS, email) and its AWS and sandbox adapters.

- ``NotificationSender`` is the port: ``send(message)`` delivers one rendered message and answers DELIVERED or
  RECIPIENT_NOT_FOUND; it raises ProviderUnavailable when a retry may succeed and ProviderRejected when it cannot
  (a misconfiguration, a refused sender, bad credentials). One call is one attempt: retrying, with the same
  idempotency key, is the caller's job.
- Email goes through shared.adapters.ses_email (SES v2 ``SendBulkEmail``).
- ``SnsSmsSender``: SMS and LMS through Amazon SNS ``Publish`` to a phone number, which MiniStack also serves
  (it records direct-to-phone publishes, inspectable at ``GET /_ministack/sns/sms-messages?phoneNumber=+82...``;
  it does not implement End User Messaging SMS, ``pinpoint-sms-voice-v2``).
- ``ChannelRouter``: one sender per channel behind the port (e.g. SES for email, SNS or the HTTP gateway of
  shared.adapters.http_sms_gateway for sms/lms).
- ``SandboxNotificationSender``: the contract's sandbox outcomes in front of a real sender, so every deliverable
  message still reaches SES/SNS (on MiniStack) and can be inspected there.

What AWS can and cannot tell synchronously: SES and SNS accept a message for delivery; whether the mailbox or the
phone number exists is only known later (bounces and delivery-status events, through a configuration set's event
destination or SNS delivery status logging). So both AWS senders answer DELIVERED ("accepted by the provider")
and never RECIPIENT_NOT_FOUND. Neither API takes an idempotency key either: a call that timed out after AWS
accepted it and is then retried may deliver twice. The sandbox and the HTTP gateway deduplicate by key.

The boto3 clients are built by the caller, with botocore's own retries off (``aws_client(service, retries=False)``
in shared.adapters.aws_clients) so the caller's retry policy is the only one, as the HTTP adapters do with urllib3.

Nothing here logs or puts into exception messages phone numbers, email addresses, message text or AWS error
messages (SES echoes addresses in them); only operation names, HTTP statuses and error codes.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

import botocore.exceptions

from shared.adapters.aws_errors import aws_failure
from shared.clock import to_rfc3339, utc_now
from shared.errors import ProviderRejected, ProviderUnavailable
from shared.models.common import Channel
from shared.models.reports import DeliveryReport

logger = logging.getLogger(__name__)


class MessageStatus(StrEnum):
    """What the provider said about one message of a batch, at the time of the call."""

    ACCEPTED = "ACCEPTED"  # taken for delivery; a delivery report settles it later (SENT until then)
    RECIPIENT_NOT_FOUND = "RECIPIENT_NOT_FOUND"  # known at once not to exist: INVALID_RECIPIENT, no cost
    RETRY = "RETRY"  # not taken this time (throttled, a transient error): may go again with the same key
    REJECTED = "REJECTED"  # refused for good (content or sender refused for this message): PROVIDER_ERROR


@dataclass(frozen=True)
class NotificationMessage:
    """One rendered message to one recipient. ``idempotency_key`` is the recipient attempt's key
    (shared.domain.attempts); ``destination`` is an E.164 phone (sms, lms) or an email address; ``title`` is the
    lms subject (optional) or the email subject (required); an sms has none."""

    idempotency_key: str
    channel: Channel
    destination: str
    body: str
    title: str | None = None

    def __post_init__(self) -> None:
        if not self.idempotency_key:
            raise ValueError("a notification needs an idempotency key")
        if not self.destination:
            raise ValueError("a notification needs a destination")
        if self.channel == "sms" and self.title:
            raise ValueError("an sms has no title")
        if self.channel == "email" and not self.title:
            raise ValueError("an email needs a title (its subject)")


@dataclass(frozen=True)
class MessageResult:
    status: MessageStatus
    provider_message_id: str | None = None
    code: str | None = None  # the provider's own status or error code, for logs and metrics


class NotificationSender(Protocol):
    def send_batch(self, batch_key: str, messages: Sequence[NotificationMessage]) -> dict[str, MessageResult]:
        """Deliver the messages (one channel family: sms/lms, or email) in as few provider requests as the
        provider allows; answer for each message by its idempotency key (a message left out counts as RETRY).

        ``batch_key`` names the batch's reservation. Calling again with the same key and messages (a retry after
        ProviderUnavailable, a redelivered job after a crash) must not deliver any message twice: an adapter reads
        back what the provider already has where it can. Raises ProviderUnavailable when the call as a whole
        failed and may be retried, ProviderRejected when retrying cannot help (credentials, sender number)."""
        ...


class ReportSource(Protocol):
    """A provider whose delivery reports are fetched (Solapi's message list, the sandbox's SMS reports)."""

    def poll(self, now: datetime, publish: Callable[[Sequence[DeliveryReport]], None]) -> int:
        """Hand every report that is final by ``now`` to ``publish`` (which returns only once they are durably
        queued), and only then forget them; returns how many were published. A crash in between publishes them
        again, which the domain's apply-once rule absorbs."""
        ...


# -- AWS ----------------------------------------------------------------------------------------------------------


class SnsSmsSender:
    """SMS and LMS through Amazon SNS ``Publish`` with ``PhoneNumber`` (transactional SMS).

    AWS SMS has no LMS: an lms is published as one longer SMS with its title on the first line (``[title]``), and
    the carrier splits it into parts. Korean carriers deliver real LMS (a subject and up to 2,000 bytes as one
    message) only through a Korean messaging gateway: that is shared.adapters.http_sms_gateway. SNS accepts a
    message for delivery; whether the number exists is not known synchronously (see the module notes)."""

    def __init__(self, sns_client: Any, sender_id: str | None = None) -> None:
        self._client = sns_client
        self._sender_id = sender_id

    def __repr__(self) -> str:
        return f"SnsSmsSender(sender_id={self._sender_id!r})"

    def send(self, message: NotificationMessage) -> DeliveryResult:
        if message.channel not in ("sms", "lms"):
            raise ValueError(f"SnsSmsSender sends sms and lms, not {message.channel}")
        attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}}
        if self._sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": self._sender_id}
        try:
            response = self._client.publish(
                PhoneNumber=message.destination, Message=sms_text(message), MessageAttributes=attributes
            )
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            raise aws_failure("SNS", "Publish", exc) from exc
        return DeliveryResult(DeliveryOutcome.DELIVERED, response.get("MessageId"))


def sms_text(message: NotificationMessage) -> str:
    """The single text an SMS-only provider carries: the body, with an lms title as a ``[title]`` first line."""
    return f"[{message.title}]\n{message.body}" if message.title else message.body


class ChannelRouter:
    """A NotificationSender that hands each message to the sender for its channel (lms defaults to the sms one)."""

    def __init__(
        self, *, sms: NotificationSender, email: NotificationSender, lms: NotificationSender | None = None
    ) -> None:
        self._senders: dict[str, NotificationSender] = {"sms": sms, "lms": lms or sms, "email": email}

    def send(self, message: NotificationMessage) -> DeliveryResult:
        return self._senders[message.channel].send(message)


# -- sandbox ------------------------------------------------------------------------------------------------------

_NOT_FOUND_SUFFIX = "0000"
_ALWAYS_FAILS_SUFFIX = "9999"
_FAILS_TWICE_SUFFIX = "8888"
_ALWAYS_FAILS_DOMAIN = "fail.example"
_NOT_FOUND_DOMAIN = "invalid.example"
_SANDBOX_MEMORY = timedelta(days=7)  # how long the sandbox provider remembers a key (the table's TTL)


class SandboxRule(StrEnum):
    DELIVER = "DELIVER"
    RECIPIENT_NOT_FOUND = "RECIPIENT_NOT_FOUND"
    ALWAYS_FAILS = "ALWAYS_FAILS"
    FAILS_TWICE = "FAILS_TWICE"


def sandbox_rule(message: NotificationMessage) -> SandboxRule:
    """The contract's sandbox table: phones by their last four digits, emails by their domain."""
    if message.channel == "email":
        domain = message.destination.rpartition("@")[2].lower()
        if domain == _ALWAYS_FAILS_DOMAIN:
            return SandboxRule.ALWAYS_FAILS
        if domain == _NOT_FOUND_DOMAIN:
            return SandboxRule.RECIPIENT_NOT_FOUND
        return SandboxRule.DELIVER
    if message.destination.endswith(_NOT_FOUND_SUFFIX):
        return SandboxRule.RECIPIENT_NOT_FOUND
    if message.destination.endswith(_ALWAYS_FAILS_SUFFIX):
        return SandboxRule.ALWAYS_FAILS
    if message.destination.endswith(_FAILS_TWICE_SUFFIX):
        return SandboxRule.FAILS_TWICE
    return SandboxRule.DELIVER


class SandboxNotificationSender:
    """Sandbox outcomes in front of a real sender, with the provider's state in its own DynamoDB items.

    Numbers ending 0000 and ``@invalid.example`` are RECIPIENT_NOT_FOUND; numbers ending 9999 and
    ``@fail.example`` are always ProviderUnavailable; numbers ending 8888 are ProviderUnavailable on the first two
    calls per idempotency key, then delivered. Every other message goes to ``delivery`` (SES or SNS; on MiniStack
    it can be inspected there).

    Like a messaging gateway, the sandbox is idempotent per key: calls are counted in the item
    ``SANDBOX_PROVIDER#NOTIFY#{key}`` (so the 8888 count survives Lambda restarts and is shared by all instances),
    a key that was delivered answers with the same result without delivering again, and a key reused for a
    different message is a ProviderRejected (409 IDEMPOTENCY_KEY_REUSED). Two calls with the same key at the same
    moment may both deliver; the caller never does that."""

    def __init__(self, delivery: NotificationSender, client: Any, table_name: str) -> None:
        self._delivery = delivery
        self._client = client
        self._table = table_name

    def send(self, message: NotificationMessage) -> DeliveryResult:
        rule = sandbox_rule(message)
        if rule is SandboxRule.RECIPIENT_NOT_FOUND:
            return DeliveryResult(DeliveryOutcome.RECIPIENT_NOT_FOUND)
        record = self._count_call(message)
        if record["fingerprint"]["S"] != _fingerprint(message):
            raise ProviderRejected(
                "sandbox notification provider: idempotency key reused for another message",
                status=409,
                code="IDEMPOTENCY_KEY_REUSED",
            )
        calls = int(record["calls"]["N"])
        if rule is SandboxRule.ALWAYS_FAILS or (rule is SandboxRule.FAILS_TWICE and calls <= 2):
            raise ProviderUnavailable("sandbox notification provider: service unavailable")
        if "delivered_id" in record:  # a retry of a delivered message: answer again, deliver once
            return DeliveryResult(DeliveryOutcome.DELIVERED, record["delivered_id"]["S"] or None)
        result = self._delivery.send(message)
        if result.outcome is DeliveryOutcome.DELIVERED:
            return DeliveryResult(DeliveryOutcome.DELIVERED, self._record_delivery(message, result))
        return result

    def calls(self, idempotency_key: str) -> int:
        """Calls the sandbox has seen for a key (for tests and inspection)."""
        item = self._client.get_item(TableName=self._table, Key=_key(idempotency_key), ConsistentRead=True)
        return int(item.get("Item", {}).get("calls", {}).get("N", 0))

    def _count_call(self, message: NotificationMessage) -> dict[str, Any]:
        now = utc_now()
        return self._update(
            message,
            "ADD calls :one SET fingerprint = if_not_exists(fingerprint, :fingerprint), "
            "first_call_at = if_not_exists(first_call_at, :now), expires_at = if_not_exists(expires_at, :expires)",
            {
                ":one": {"N": "1"},
                ":fingerprint": {"S": _fingerprint(message)},
                ":now": {"S": to_rfc3339(now)},
                ":expires": {"N": str(int((now + _SANDBOX_MEMORY).timestamp()))},
            },
        )

    def _record_delivery(self, message: NotificationMessage, result: DeliveryResult) -> str | None:
        record = self._update(
            message,
            "SET delivered_id = if_not_exists(delivered_id, :id), delivered_at = if_not_exists(delivered_at, :now)",
            {":id": {"S": result.provider_message_id or ""}, ":now": {"S": to_rfc3339(utc_now())}},
        )
        return record["delivered_id"]["S"] or None

    def _update(self, message: NotificationMessage, expression: str, values: dict[str, Any]) -> dict[str, Any]:
        """Updates the key's sandbox item; returns the item as it is now."""
        response = self._client.update_item(
            TableName=self._table,
            Key=_key(message.idempotency_key),
            UpdateExpression=expression,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
        attributes: dict[str, Any] = response["Attributes"]
        return attributes


def _key(idempotency_key: str) -> dict[str, Any]:
    return {"pk": {"S": f"SANDBOX_PROVIDER#NOTIFY#{idempotency_key}"}, "sk": {"S": "NOTIFY"}}


def _fingerprint(message: NotificationMessage) -> str:
    """A digest of what the key stands for; the message itself (addresses, text) is not stored."""
    parts = (message.channel, message.destination, message.title or "", message.body)
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
