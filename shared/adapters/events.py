"""EventBridge adapter: domain events onto the service's bus (and ``put_entries`` for any PutEvents entries)."""

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
        put_entries(
            self._client,
            [
                {
                    "Source": SOURCE,
                    "DetailType": e.detail_type,
                    "Detail": json.dumps(e.detail),
                    # The event's time is its outbox item's, so a republished event (the dispatcher's, after a
                    # publisher died before clearing the outbox) reaches consumers exactly as the first copy did.
                    "Time": e.created_at,
                    "EventBusName": self._bus,
                    "Resources": [],
                }
                for e in events
            ],
        )


def put_entries(client: Any, entries: Sequence[dict[str, Any]]) -> None:
    """PutEvents, 10 entries per call; raises if EventBridge refused any (the caller's retry puts them again)."""
    for start in range(0, len(entries), _PUT_EVENTS_LIMIT):
        response = client.put_events(Entries=list(entries[start : start + _PUT_EVENTS_LIMIT]))
        if response.get("FailedEntryCount"):
            raise RuntimeError(f"EventBridge refused {response['FailedEntryCount']} events")
