"""The EventBridge publisher: an event republished from the outbox reaches consumers as the first copy did."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from shared.adapters.events import EventPublisher
from shared.models.items import OutboxEvent


class RecordingEvents:
    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.entries += Entries
        return {"FailedEntryCount": 0}


def test_an_event_keeps_its_outbox_time_when_published_again() -> None:
    """EventBridge's `time` is the time of the event in consumers (balance.low's timestamp, its delivery's id):
    publishing the same outbox item twice must give the same time, not that of each call."""
    created = datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC)
    event = OutboxEvent(
        event_id="obx_1", account_id="acc_1", detail_type="BalanceLow", detail={"value": 4}, created_at=created
    )
    client = RecordingEvents()
    publisher = EventPublisher(client, "bus")
    publisher.publish([event])
    publisher.publish([event])  # the dispatcher's copy, after a publisher died before clearing the outbox
    assert [entry["Time"] for entry in client.entries] == [created, created]
    assert [json.loads(entry["Detail"]) for entry in client.entries] == [{"value": 4}, {"value": 4}]
