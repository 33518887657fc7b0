"""EventBridge adapter: domain events onto the service's bus."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from shared.models.items import OutboxEvent

SOURCE = "win-notifications"
_PUT_EVENTS_LIMIT = 10


class EventPublisher:
    def __init__(self, client: Any, bus_name: str) -> None:
        self._client = client
        self._bus = bus_name

    def publish(self, events: Sequence[OutboxEvent]) -> None:
        for start in range(0, len(events), _PUT_EVENTS_LIMIT):
            chunk = events[start : start + _PUT_EVENTS_LIMIT]
            response = self._client.put_events(
                Entries=[
                    {
                        "Source": SOURCE,
                        "DetailType": e.detail_type,
                        "Detail": json.dumps(e.detail),
                        "EventBusName": self._bus,
                        "Resources": [],
                    }
                    for e in chunk
                ]
            )
            if response.get("FailedEntryCount"):
                raise RuntimeError(f"EventBridge refused {response['FailedEntryCount']} events")
