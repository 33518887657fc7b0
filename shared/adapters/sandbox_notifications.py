"""The sandbox notification provider: the contract's sandbox outcomes in front of real senders.

Every deliverable message still goes to SES or SNS (on MiniStack they can be inspected there); what a real
provider would decide is decided here by the recipient's last four digits or email domain:

| recipient | at send | later report |
|---|---|---|
| phone ending 0000, email @invalid.example | RECIPIENT_NOT_FOUND | - |
| phone ending 9999, email @fail.example | RETRY on every call (the engine gives up: PROVIDER_ERROR) | - |
| phone ending 8888 | RETRY on the first two calls, then accepted | delivered |
| phone ending 7777 | accepted | unknown subscriber (RECIPIENT_NOT_FOUND) |
| phone ending 6666 | accepted | undelivered (UNDELIVERED) |
| email @bounce.example | accepted | hard bounce (RECIPIENT_NOT_FOUND) |
| anyone else | accepted | delivered |

Reports take the path real reports take: an email's report is an SES-shaped event put on the default event bus
(``email_events``; the same rule, queue and parser as SES's own events), an SMS's report waits in a due item
that the report poller collects through ``poll`` (like Solapi's message list), about
``REPORT_DELAY`` after the message was accepted.

Like a messaging gateway, the sandbox is idempotent per idempotency key: calls are counted in the item
``SANDBOX_PROVIDER#NOTIFY#{key}`` (so the 8888 count survives Lambda restarts and is shared by all instances),
a key that was accepted answers the same again without delivering twice, and a key reused for a different
message is REJECTED. Nothing here stores or logs addresses or text: only a digest of the message.

A batch's per-key items are read and written ``concurrency`` at a time (the worker's PROVIDER_CONCURRENCY): one
request after another they would make the sandbox path the slowest part of a send.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from shared.domain.clock import to_rfc3339, utc_now
from shared.domain.notifications.sender import MessageResult, MessageStatus, NotificationMessage, NotificationSender
from shared.models.reports import DeliveryReport, ReportOutcome

_MEMORY = timedelta(days=7)  # how long the sandbox provider remembers a key (the table's TTL)
REPORT_DELAY = timedelta(seconds=20)
_REPORTS_INDEX = "SANDBOX_REPORTS"


class SandboxRule(StrEnum):
    DELIVER = "DELIVER"
    RECIPIENT_NOT_FOUND = "RECIPIENT_NOT_FOUND"
    ALWAYS_FAILS = "ALWAYS_FAILS"
    FAILS_TWICE = "FAILS_TWICE"
    UNKNOWN_SUBSCRIBER = "UNKNOWN_SUBSCRIBER"  # accepted, then reported as not existing
    UNDELIVERED = "UNDELIVERED"  # accepted, then reported undelivered


_PHONE_RULES = {
    "0000": SandboxRule.RECIPIENT_NOT_FOUND,
    "9999": SandboxRule.ALWAYS_FAILS,
    "8888": SandboxRule.FAILS_TWICE,
    "7777": SandboxRule.UNKNOWN_SUBSCRIBER,
    "6666": SandboxRule.UNDELIVERED,
}
_EMAIL_RULES = {
    "invalid.example": SandboxRule.RECIPIENT_NOT_FOUND,
    "fail.example": SandboxRule.ALWAYS_FAILS,
    "bounce.example": SandboxRule.UNKNOWN_SUBSCRIBER,
}
_REPORTED: dict[SandboxRule, ReportOutcome] = {
    SandboxRule.UNKNOWN_SUBSCRIBER: "RECIPIENT_NOT_FOUND",
    SandboxRule.UNDELIVERED: "UNDELIVERED",
}

# Puts SES-shaped events for (attempt key, provider message id, outcome, when) on the event bus.
EmailEvents = Callable[[Sequence[tuple[str, str, ReportOutcome, datetime]]], None]


def sandbox_rule(message: NotificationMessage) -> SandboxRule:
    """The contract's sandbox tables: phones by their last four digits, emails by their domain."""
    if message.channel == "email":
        return _EMAIL_RULES.get(message.destination.rpartition("@")[2].lower(), SandboxRule.DELIVER)
    return _PHONE_RULES.get(message.destination[-4:], SandboxRule.DELIVER)


class SandboxNotificationSender:
    """NotificationSender with the sandbox's outcomes, delivering through ``delivery`` (SES and SNS)."""

    def __init__(
        self,
        delivery: NotificationSender,
        client: Any,
        table_name: str,
        email_events: EmailEvents,
        concurrency: int = 8,
    ) -> None:
        self._delivery = delivery
        self._client = client
        self._table = table_name
        self._email_events = email_events
        self._concurrency = max(1, concurrency)

    def send_batch(self, batch_key: str, messages: Sequence[NotificationMessage]) -> dict[str, MessageResult]:
        results: dict[str, MessageResult] = {}
        to_deliver: list[NotificationMessage] = []
        now = utc_now()
        emails: list[tuple[str, str, ReportOutcome, datetime]] = []
        for message, answer in zip(messages, self._each(self._decide, messages), strict=True):
            if answer is None:
                to_deliver.append(message)
                continue
            results[message.idempotency_key] = answer
            if answer.status is MessageStatus.ACCEPTED and message.channel == "email" and answer.provider_message_id:
                # Accepted before (its report may have been lost with a crashed call): report it again.
                outcome = _REPORTED.get(sandbox_rule(message), "DELIVERED")
                emails.append((message.idempotency_key, answer.provider_message_id, outcome, now))
        if not to_deliver:
            if emails:
                self._email_events(emails)
            return results
        delivered = self._delivery.send_batch(batch_key, to_deliver)
        answers = [delivered.get(m.idempotency_key, MessageResult(MessageStatus.RETRY)) for m in to_deliver]
        accepted = [(m, a) for m, a in zip(to_deliver, answers, strict=True) if a.status is MessageStatus.ACCEPTED]
        recorded = dict(
            zip(
                (m.idempotency_key for m, _ in accepted),
                self._each(lambda pair: self._record_acceptance(pair[0], pair[1].provider_message_id, now), accepted),
                strict=True,
            )
        )
        for message, result in zip(to_deliver, answers, strict=True):
            if result.status is MessageStatus.ACCEPTED:
                message_id = recorded[message.idempotency_key]
                result = MessageResult(MessageStatus.ACCEPTED, message_id)
                outcome = _REPORTED.get(sandbox_rule(message), "DELIVERED")
                if message.channel == "email":
                    emails.append((message.idempotency_key, message_id, outcome, now))
            results[message.idempotency_key] = result
        if emails:
            self._email_events(emails)
        return results

    def _each(self, work: Callable[[Any], Any], items: Sequence[Any]) -> list[Any]:
        """``work`` over ``items`` at most ``concurrency`` at a time, answers in the items' order."""
        if len(items) <= 1 or self._concurrency == 1:
            return [work(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(self._concurrency, len(items))) as pool:
            return list(pool.map(work, items))

    def calls(self, idempotency_key: str) -> int:
        """Calls the sandbox has seen for a key (for tests and inspection)."""
        item = self._client.get_item(TableName=self._table, Key=_key(idempotency_key), ConsistentRead=True)
        return int(item.get("Item", {}).get("calls", {}).get("N", 0))

    def _decide(self, message: NotificationMessage) -> MessageResult | None:
        """The sandbox's answer without delivering, or None when the message is to be delivered now."""
        rule = sandbox_rule(message)
        if rule is SandboxRule.RECIPIENT_NOT_FOUND:
            return MessageResult(MessageStatus.RECIPIENT_NOT_FOUND, code="SANDBOX_NOT_FOUND")
        record = self._count_call(message)
        if record["fingerprint"]["S"] != _fingerprint(message):
            return MessageResult(MessageStatus.REJECTED, code="IDEMPOTENCY_KEY_REUSED")
        calls = int(record["calls"]["N"])
        if rule is SandboxRule.ALWAYS_FAILS or (rule is SandboxRule.FAILS_TWICE and calls <= 2):
            return MessageResult(MessageStatus.RETRY, code="SANDBOX_UNAVAILABLE")
        if "delivered_id" in record:  # a retry of an accepted message: answer again, deliver once
            return MessageResult(MessageStatus.ACCEPTED, record["delivered_id"]["S"])
        return None

    def _count_call(self, message: NotificationMessage) -> dict[str, Any]:
        now = utc_now()
        return self._update(
            message.idempotency_key,
            "ADD calls :one SET fingerprint = if_not_exists(fingerprint, :fingerprint), "
            "first_call_at = if_not_exists(first_call_at, :now), expires_at = if_not_exists(expires_at, :expires)",
            {
                ":one": {"N": "1"},
                ":fingerprint": {"S": _fingerprint(message)},
                ":now": {"S": to_rfc3339(now)},
                ":expires": {"N": str(int((now + _MEMORY).timestamp()))},
            },
        )

    def _record_acceptance(self, message: NotificationMessage, provider_id: str | None, now: datetime) -> str:
        """Remembers the first acceptance of the key; an SMS also gets its report due item (sparse gsi2)."""
        values = {":id": {"S": provider_id or f"sandbox-{message.idempotency_key}"}, ":now": {"S": to_rfc3339(now)}}
        expression = (
            "SET delivered_id = if_not_exists(delivered_id, :id), delivered_at = if_not_exists(delivered_at, :now)"
        )
        if message.channel != "email":
            expression += ", gsi2pk = if_not_exists(gsi2pk, :index), gsi2sk = if_not_exists(gsi2sk, :due)"
            values |= {
                ":index": {"S": _REPORTS_INDEX},
                ":due": {"S": f"{to_rfc3339(now + REPORT_DELAY)}#{message.idempotency_key}"},
            }
            expression += ", report = if_not_exists(report, :report)"
            values[":report"] = {"S": _REPORTED.get(sandbox_rule(message), "DELIVERED")}
        record = self._update(message.idempotency_key, expression, values)
        return str(record["delivered_id"]["S"])

    def _update(self, idempotency_key: str, expression: str, values: dict[str, Any]) -> dict[str, Any]:
        """Updates the key's sandbox item; returns the item as it is now."""
        response = self._client.update_item(
            TableName=self._table,
            Key=_key(idempotency_key),
            UpdateExpression=expression,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
        attributes: dict[str, Any] = response["Attributes"]
        return attributes


class SandboxReportSource:
    """ReportSource of the sandbox's SMS reports: the due items written when a message was accepted."""

    def __init__(self, client: Any, table_name: str, limit: int = 500) -> None:
        self._client = client
        self._table = table_name
        self._limit = limit

    def poll(self, now: datetime, publish: Callable[[Sequence[DeliveryReport]], None]) -> int:
        response = self._client.query(
            TableName=self._table,
            IndexName="gsi2",
            KeyConditionExpression="gsi2pk = :index AND gsi2sk <= :now",
            ExpressionAttributeValues={":index": {"S": _REPORTS_INDEX}, ":now": {"S": f"{to_rfc3339(now)}#~"}},
            Limit=self._limit,
        )
        items = response.get("Items", [])
        reports = [
            DeliveryReport(
                attempt=item["pk"]["S"].removeprefix(_PREFIX),
                outcome=item["report"]["S"],
                occurred_at=datetime.fromisoformat(item["gsi2sk"]["S"].partition("#")[0]),
                provider="sandbox",
                code=f"SANDBOX_{item['report']['S']}",
            )
            for item in items
        ]
        if reports:
            publish(reports)
        for item in items:  # reported: leave the index (the item itself stays, for idempotency)
            self._client.update_item(
                TableName=self._table,
                Key={"pk": item["pk"], "sk": item["sk"]},
                UpdateExpression="REMOVE gsi2pk, gsi2sk",
            )
        return len(reports)


_PREFIX = "SANDBOX_PROVIDER#NOTIFY#"


def _key(idempotency_key: str) -> dict[str, Any]:
    return {"pk": {"S": f"{_PREFIX}{idempotency_key}"}, "sk": {"S": "NOTIFY"}}


def _fingerprint(message: NotificationMessage) -> str:
    """A digest of what the key stands for; the message itself (addresses, text) is not stored."""
    parts = (message.channel, message.destination, message.title or "", message.body)
    return hashlib.sha256("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
