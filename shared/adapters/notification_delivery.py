"""AWS adapters of the notification delivery port (shared.domain.notifications.sender).
- ``SnsSmsSender``: SMS and LMS through Amazon SNS ``Publish``, the sandbox's SMS path (MiniStack records
  direct-to-phone publishes, inspectable at ``GET /_ministack/sns/sms-messages?phoneNumber=+82...``).
- ``ChannelRouter``: a batch to the sender of its channel family.

SES and SNS accept a message before they know whether the mailbox or handset exists; that comes later as a
delivery report (shared.models.reports). Neither API takes an idempotency key: the boto3 clients are built with
botocore's retries off (``aws_client(service, retries=False)``) so the domain's retry is the only one.

Nothing here logs or puts into exception messages phone numbers, email addresses, message text or AWS error
messages (SES echoes addresses in them); only operation names, HTTP statuses and error codes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import botocore.exceptions

from shared.adapters.aws_errors import aws_failure
from shared.adapters.rate_limit import TokenBucket
from shared.domain.notifications.sender import MessageResult, MessageStatus, NotificationMessage, NotificationSender
from shared.errors import ProviderRejected

logger = logging.getLogger(__name__)


# -- AWS ----------------------------------------------------------------------------------------------------------


class SnsSmsSender:
    """SMS and LMS through Amazon SNS ``Publish`` with ``PhoneNumber`` (transactional SMS), the sandbox's SMS path.

    AWS has no bulk form of SMS, so a batch is one Publish per message (a few at a time). AWS SMS has no LMS
    either: an lms is published as one longer SMS with its title on the first line (``[title]``). Korean carriers
    deliver real LMS only through a Korean messaging gateway (shared.adapters.solapi). SNS accepts a message for
    delivery; whether the number exists is not known synchronously, and SNS does not deduplicate. Each Publish is
    answered on its own: throttling or a 5xx is RETRY, a refusal (an opted-out number, a bad parameter, access
    denied) is REJECTED for that message; send_batch itself never raises for one."""

    def __init__(
        self,
        sns_client: Any,
        sender_id: str | None = None,
        concurrency: int = 8,
        *,
        limiter: TokenBucket | None = None,
    ) -> None:
        self._limiter = limiter  # this instance's share of SmsProviderRequestsPerSecond: one token per Publish
        self._client = sns_client
        self._sender_id = sender_id
        self._concurrency = concurrency

    def __repr__(self) -> str:
        return f"SnsSmsSender(sender_id={self._sender_id!r})"

    def send_batch(self, batch_key: str, messages: Sequence[NotificationMessage]) -> dict[str, MessageResult]:
        if not messages:
            return {}
        with ThreadPoolExecutor(max_workers=min(self._concurrency, len(messages))) as pool:
            return dict(zip((m.idempotency_key for m in messages), pool.map(self._publish, messages), strict=True))

    def _publish(self, message: NotificationMessage) -> MessageResult:
        if message.channel not in ("sms", "lms"):
            raise ValueError(f"SnsSmsSender sends sms and lms, not {message.channel}")
        attributes = {"AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}}
        if self._sender_id:
            attributes["AWS.SNS.SMS.SenderID"] = {"DataType": "String", "StringValue": self._sender_id}
        if self._limiter is not None:
            self._limiter.acquire()
        try:
            response = self._client.publish(
                PhoneNumber=message.destination, Message=sms_text(message), MessageAttributes=attributes
            )
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            failure = aws_failure("SNS", "Publish", exc)
            if isinstance(failure, ProviderRejected):
                # This message only: the batch's other publishes may have gone already, so raising here would
                # fail (and later resend) messages SNS took.
                return MessageResult(MessageStatus.REJECTED, code=failure.code or type(exc).__name__)
            return MessageResult(MessageStatus.RETRY, code=type(exc).__name__)
        return MessageResult(MessageStatus.ACCEPTED, response.get("MessageId"))


def sms_text(message: NotificationMessage) -> str:
    """The single text an SMS-only provider carries: the body, with an lms title as a ``[title]`` first line."""
    return f"[{message.title}]\n{message.body}" if message.title else message.body


class ChannelRouter:
    """A NotificationSender that hands a batch to the sender for its channel family (sms and lms together)."""

    def __init__(self, *, sms: NotificationSender, email: NotificationSender) -> None:
        self._sms = sms
        self._email = email

    def send_batch(self, batch_key: str, messages: Sequence[NotificationMessage]) -> dict[str, MessageResult]:
        email = [m for m in messages if m.channel == "email"]
        phone = [m for m in messages if m.channel != "email"]
        results: dict[str, MessageResult] = {}
        if phone:
            results |= self._sms.send_batch(batch_key, phone)
        if email:
            results |= self._email.send_batch(batch_key, email)
        return results
