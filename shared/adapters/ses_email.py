"""Email in bulk through Amazon SES v2 ``SendBulkEmail``: one call per 50 recipients, one answer per recipient.

``SesBulkEmailSender.send_batch`` implements the NotificationSender port (shared.adapters.notification_delivery)
for email. Each call carries an inline template whose subject and text body are just ``{{subject}}`` and
``{{body}}``; every entry fills them through ``ReplacementTemplateData`` with the message the domain already
rendered for that recipient (``{name}`` and all). Text part only: no HTML part, so no HTML escaping question.

Provider facts relied on, and where they were checked:

- Request shape: ``FromEmailAddress``, ``DefaultContent.Template.TemplateContent`` {Subject, Text, Html} and
  ``TemplateData``, ``BulkEmailEntries[].Destination`` / ``ReplacementEmailContent.ReplacementTemplate
  .ReplacementTemplateData`` (a JSON string, at most 262,144 characters) / ``ReplacementTags``,
  ``ConfigurationSetName``; answer ``BulkEmailEntryResults[]`` {Status, Error, MessageId}: botocore's sesv2 service
  model (botocore/data/sesv2/2019-09-27/service-2.json, shapes SendBulkEmailRequest, BulkEmailEntry, Template,
  EmailTemplateContent, BulkEmailEntryResult) and https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendBulkEmail.html.
- At most 50 recipients per message and per bulk call: "Maximum number of recipients per message: 50", not
  adjustable (https://docs.aws.amazon.com/ses/latest/dg/quotas.html); the v1 bulk API says "divide your recipient
  list into groups of 50 or fewer" (SendBulkTemplatedEmail reference). The v2 reference itself states no number.
- Entry statuses: the BulkEmailStatus enum in the service model (SUCCESS, MESSAGE_REJECTED (a virus),
  MAIL_FROM_DOMAIN_NOT_VERIFIED, CONFIGURATION_SET_NOT_FOUND, TEMPLATE_NOT_FOUND, ACCOUNT_SUSPENDED,
  ACCOUNT_THROTTLED, ACCOUNT_DAILY_QUOTA_EXCEEDED, INVALID_SENDING_POOL_NAME, ACCOUNT_SENDING_PAUSED,
  CONFIGURATION_SET_SENDING_PAUSED, INVALID_PARAMETER, TRANSIENT_FAILURE, FAILED). None says "no such mailbox":
  SES learns that only later, from a bounce (shared.adapters.ses_events).
- Inline templates: "Amazon SES supports only simple substitutions when you send email using the SendEmail or
  SendBulkEmail operations and you provide the full template content in the request" (service model, Template
  .TemplateContent); Handlebars blocks are refused ("Template contains unsupported operations",
  aws/aws-sdk-js-v3 issue 6657). "SES doesn't escape HTML content when rendering"
  (https://docs.aws.amazon.com/ses/latest/dg/send-personalized-email-advanced.html).
- Tags: names and values only ASCII letters, digits, ``_`` and ``-``, at most 256 characters (service model,
  MessageTag). Recipient attempt keys are made of those characters (shared.domain.attempts), so the key travels
  unchanged as the ``attempt`` tag and comes back in every event's ``mail.tags``.
- Addresses: 7-bit local parts, punycode domains (service model, Destination).

Not confirmed: that SES substitutes a replacement value without rendering it again (so a body containing ``{{``
arrives as written). The documentation says "simple substitution"; the request carries the text as a JSON string
value, and MiniStack delivers it literally, but no public test against SES itself was found. That the results come
in the order of the entries (the reference says "one object per intended recipient"; every client relies on it).

No duplicate delivery, and what is left: SES takes no idempotency key. The client is built by the caller with
botocore's retries off (``aws_client("sesv2", retries=False)``), so one ``send_batch`` sends each message at most
once, and once one bulk call fails, the later ones are not made (their messages are RETRY; the port's caller resends
only those). A read timeout after SES accepted a call is the one gap: that call's messages come back RETRY, the
domain resends them with the same keys, and those recipients may get the email twice. The count is charged once
(the domain's ledger is keyed by the attempt, not by the call); never twice.

Sending rate: SES's quota counts recipients, not calls ("Quotas are based on the number of recipients, rather than
on the number of messages", https://docs.aws.amazon.com/ses/latest/dg/quotas.html), so each call first takes one
token per recipient from the injected ``limiter``, this instance's share of EmailSendRatePerSecond (the account's
MaxSendRate from ``GetAccount``: 1 per second in the SES sandbox). A call whose turn is more than
``max_rate_wait_seconds`` away is not made: its messages and the rest are RETRY (a batch larger than the rate allows
in one Lambda run goes out over the domain's retries), so a low rate never runs a consumer into its timeout.

Nothing here logs or puts into exceptions addresses, message text or SES's error messages (they echo addresses).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from typing import Any

import botocore.exceptions

from shared.adapters.aws_errors import aws_failure
from shared.adapters.rate_limit import TokenBucket
from shared.domain.notifications.sender import MessageResult, MessageStatus, NotificationMessage

logger = logging.getLogger(__name__)

BULK_EMAIL_LIMIT = 50
ATTEMPT_TAG = "attempt"  # the message tag that carries the recipient attempt's key into SES events
TEMPLATE = {"Subject": "{{subject}}", "Text": "{{body}}"}

_TAG_VALUE = re.compile(r"[A-Za-z0-9_-]{1,256}")

# Not taken this time, may go with the same key later: SES's own temporary failure, the sending rate, and the
# rolling 24-hour quota (the domain's retry rounds give up and report a provider error if it stays exhausted).
_RETRY_STATUSES = frozenset({"TRANSIENT_FAILURE", "ACCOUNT_THROTTLED", "ACCOUNT_DAILY_QUOTA_EXCEEDED"})
# Refused for this message, resending the same request will not change it: content (a virus), a parameter of this
# entry, an account or configuration problem an operator must fix, or SES's unexplained FAILED. Any status added
# later falls here too: never assume a message was sent, never resend what SES may have taken.
_MISCONFIGURATION_STATUSES = frozenset(
    {
        "MAIL_FROM_DOMAIN_NOT_VERIFIED",
        "CONFIGURATION_SET_NOT_FOUND",
        "TEMPLATE_NOT_FOUND",
        "ACCOUNT_SUSPENDED",
        "INVALID_SENDING_POOL_NAME",
        "ACCOUNT_SENDING_PAUSED",
        "CONFIGURATION_SET_SENDING_PAUSED",
    }
)


class SesBulkEmailSender:
    """A NotificationSender for email: SES v2 ``SendBulkEmail``, 50 recipients per call, text part, UTF-8.

    The sender address (or its domain) must be a verified SES identity, and, out of the SES sandbox, the account
    needs production access. With ``configuration_set`` (the template's EmailConfigurationSet) SES publishes the
    messages' delivery, bounce, complaint, reject and rendering-failure events to EventBridge."""

    def __init__(
        self,
        sesv2_client: Any,
        from_address: str,
        configuration_set: str | None = None,
        *,
        limiter: TokenBucket | None = None,
        max_rate_wait_seconds: float = 20.0,
    ) -> None:
        if not from_address:
            raise ValueError("SES sender address is empty")
        self._limiter = limiter
        self._max_rate_wait = max_rate_wait_seconds
        self._client = sesv2_client
        self._from = from_address
        self._configuration_set = configuration_set

    def __repr__(self) -> str:
        return f"SesBulkEmailSender(configuration_set={self._configuration_set!r})"

    def send_batch(self, batch_key: str, messages: Sequence[NotificationMessage]) -> dict[str, MessageResult]:
        """One ``SendBulkEmail`` per 50 messages. Raises when the first call fails as a whole (nothing was sent);
        a later call's failure leaves its messages and the rest RETRY, so what SES took is never sent again by a
        retry of the whole batch. ``batch_key`` is not sent: SES has nothing to deduplicate with."""
        _check(messages)
        results: dict[str, MessageResult] = {}
        for start in range(0, len(messages), BULK_EMAIL_LIMIT):
            chunk = messages[start : start + BULK_EMAIL_LIMIT]
            if self._limiter is not None and self._limiter.try_acquire(len(chunk), self._max_rate_wait) is None:
                logger.info("SES sending rate reached; the rest of the batch waits for a retry")
                retry = MessageResult(MessageStatus.RETRY, code="RATE_LIMITED")
                results.update({m.idempotency_key: retry for m in messages[start:]})
                return results
            try:
                response = self._client.send_bulk_email(**self._request(chunk))
            except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
                failure = aws_failure("SES", "SendBulkEmail", exc)
                if not results:
                    raise failure from exc
                code = _error_code(exc)
                results.update(
                    {m.idempotency_key: MessageResult(MessageStatus.RETRY, code=code) for m in messages[start:]}
                )
                return results
            results.update(_entry_results(chunk, response.get("BulkEmailEntryResults") or []))
        return results

    def _request(self, chunk: Sequence[NotificationMessage]) -> dict[str, Any]:
        request: dict[str, Any] = {
            "FromEmailAddress": self._from,
            "DefaultContent": {
                "Template": {
                    "TemplateContent": TEMPLATE,
                    # Every entry replaces both; the defaults only keep the template's variables defined.
                    "TemplateData": json.dumps({"subject": "", "body": ""}),
                }
            },
            "BulkEmailEntries": [_entry(m) for m in chunk],
        }
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        return request


def _check(messages: Sequence[NotificationMessage]) -> None:
    keys = [m.idempotency_key for m in messages]
    if len(set(keys)) != len(keys):
        raise ValueError("a batch holds each idempotency key once")
    for message in messages:
        if message.channel != "email":
            raise ValueError(f"SesBulkEmailSender sends email, not {message.channel}")
        if not _TAG_VALUE.fullmatch(message.idempotency_key):
            # A changed key would not find its recipient when the events come back.
            raise ValueError("an idempotency key must be a valid SES tag value (ASCII letters, digits, _ and -)")


def _entry(message: NotificationMessage) -> dict[str, Any]:
    data = {"subject": message.title or "", "body": message.body}
    return {
        "Destination": {"ToAddresses": [_ascii_address(message.destination)]},
        "ReplacementEmailContent": {
            "ReplacementTemplate": {"ReplacementTemplateData": json.dumps(data, ensure_ascii=False)}
        },
        "ReplacementTags": [{"Name": ATTEMPT_TAG, "Value": message.idempotency_key}],
    }


def _entry_results(chunk: Sequence[NotificationMessage], entries: Sequence[dict[str, Any]]) -> dict[str, MessageResult]:
    results: dict[str, MessageResult] = {}
    for index, message in enumerate(chunk):
        if index >= len(entries):  # SES answered for fewer entries than it was given: not known to be taken
            results[message.idempotency_key] = MessageResult(MessageStatus.RETRY, code="NO_RESULT")
            continue
        results[message.idempotency_key] = _entry_result(entries[index])
    return results


def _entry_result(entry: dict[str, Any]) -> MessageResult:
    status = str(entry.get("Status") or "")
    if status == "SUCCESS":
        return MessageResult(MessageStatus.ACCEPTED, entry.get("MessageId"), code=status)
    if status in _RETRY_STATUSES:
        return MessageResult(MessageStatus.RETRY, code=status)
    if status in _MISCONFIGURATION_STATUSES:
        logger.error("SES refused a message: account or configuration", extra={"status": status})
    return MessageResult(MessageStatus.REJECTED, code=status or "NO_STATUS")


def _error_code(exc: Exception) -> str:
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code") or type(exc).__name__)
    return type(exc).__name__


def _ascii_address(address: str) -> str:
    """SES takes 7-bit addresses: an internationalized domain goes as punycode (local parts are ASCII already:
    shared.domain.notifications.messages refuses SMTPUTF8 mailboxes)."""
    if address.isascii():
        return address
    local, _, domain = address.rpartition("@")
    try:
        return f"{local}@{domain.encode('idna').decode('ascii')}"
    except UnicodeError:
        return address  # SES will refuse it: INVALID_PARAMETER for this entry, not a crash
