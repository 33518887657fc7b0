"""A provider's later word on one accepted notification, in the service's own terms.

Every report source (SES events, Solapi's message list, the sandbox) turns what its provider says into a
``DeliveryReport`` keyed by the recipient attempt that sent the message, so one domain function applies them all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# DELIVERED: the handset or mailbox got it. RECIPIENT_NOT_FOUND: the number or mailbox does not exist (a hard
# bounce, an unknown subscriber). UNDELIVERED: any other final non-delivery (a full mailbox, a handset off too long).
ReportOutcome = Literal["DELIVERED", "RECIPIENT_NOT_FOUND", "UNDELIVERED"]


class DeliveryReport(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    attempt: str = Field(min_length=1, max_length=128)  # the recipient attempt's key (shared.domain.attempts)
    outcome: ReportOutcome
    occurred_at: datetime
    provider: str = Field(min_length=1, max_length=32)  # "ses", "solapi", "sandbox"
    code: str | None = Field(None, max_length=64)  # the provider's own status or bounce type; never personal data
