"""SES events on EventBridge as delivery reports (placeholder until the SES event parser lands)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from shared.adapters.sandbox_notifications import EmailEvents
from shared.clock import to_rfc3339
from shared.models.reports import DeliveryReport, ReportOutcome

SANDBOX_SOURCE = "win-notifications.sandbox"


def report_from_ses_event(event: dict[str, Any]) -> DeliveryReport | None:
    detail = event.get("detail") or {}
    tags = (detail.get("mail") or {}).get("tags") or {}
    attempt = (tags.get("notification") or [None])[0]
    kind = detail.get("eventType")
    if not attempt or kind not in ("Delivery", "Bounce"):
        return None
    outcome: ReportOutcome = "DELIVERED"
    if kind == "Bounce":
        outcome = "RECIPIENT_NOT_FOUND" if detail["bounce"]["bounceType"] == "Permanent" else "UNDELIVERED"
    return DeliveryReport(
        attempt=attempt,
        outcome=outcome,
        occurred_at=datetime.fromisoformat(detail["mail"]["timestamp"]),
        provider="ses",
    )


def sandbox_email_events(events_client: Any) -> EmailEvents:
    def put(reports: Sequence[tuple[str, str, ReportOutcome, datetime]]) -> None:
        entries = [
            {
                "Source": SANDBOX_SOURCE,
                "DetailType": "Email Delivered" if outcome == "DELIVERED" else "Email Bounced",
                "Detail": json.dumps(
                    {
                        "eventType": "Delivery" if outcome == "DELIVERED" else "Bounce",
                        "mail": {"timestamp": to_rfc3339(at), "messageId": message_id, "tags": {"notification": [key]}},
                        **({"bounce": {"bounceType": "Permanent"}} if outcome != "DELIVERED" else {}),
                    }
                ),
            }
            for key, message_id, outcome, at in reports
        ]
        for start in range(0, len(entries), 10):
            events_client.put_events(Entries=entries[start : start + 10])

    return put
