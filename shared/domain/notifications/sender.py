"""The notification delivery ports (SMS, LMS, email).

- ``NotificationSender.send_batch(batch_key, messages)`` delivers a batch of rendered messages of one channel
  family in as few provider requests as the provider allows and answers for each message (``MessageStatus``). It
  raises ProviderUnavailable when the call as a whole may be retried and ProviderRejected when it cannot succeed
  (credentials, an unregistered sender). Retrying, with the same batch key and message keys, is the caller's job;
  an adapter makes a retry safe where its provider lets it (Solapi: the group is read back; the sandbox: per-key
  state).
- ``ReportSource.poll`` is the port of providers whose delivery reports are fetched, not pushed.

Adapters: shared.adapters.notification_delivery (SNS, the channel router), shared.adapters.solapi,
shared.adapters.ses_email, shared.adapters.sandbox_notifications.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from shared.models.common import Channel
from shared.models.reports import DeliveryReport


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
