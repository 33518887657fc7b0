"""Account events from recipient changes, their outbox items, and the webhook retry schedule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.events.account_events import (
    ACCOUNT_EVENTS,
    EVENTS_PER_OUTBOX_ITEM,
    published_events,
    recipient_events,
    settlement_events,
)
from shared.domain.webhooks.webhook_delivery import PRODUCTION_DELAYS, RetrySchedule, delivery_id_for, event_body
from shared.models.common import SendKind
from shared.models.items import AccountEvent, BatchItem, RecipientState

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


def _batch(*states: RecipientState) -> BatchItem:
    return BatchItem(
        send_id="nsnd_1", account_id="acc_1", kind=SendKind.NOTIFICATION, batch_no=0, recipients=list(states)
    )


def _recipient(rid: str, **fields: object) -> RecipientState:
    return RecipientState(rid=rid, phone="+821012345678", channel="sms", updated_at=NOW, **fields)


def test_an_event_for_each_recipient_that_becomes_sent_failed_or_delivered() -> None:
    batch = _batch(_recipient("r00000"), _recipient("r00001"), _recipient("r00002", status="SENT", sent_at=NOW))
    after = [
        _recipient("r00000", status="SENT", sent_at=NOW),
        _recipient("r00001", status="FAILED", reason="INVALID_RECIPIENT"),
        _recipient("r00002", status="SENT", sent_at=NOW, delivered_at=NOW),
    ]
    events = recipient_events(batch, after, NOW)
    assert [(e.type, e.data["recipient_id"]) for e in events] == [
        ("recipient.sent", "r00000"),
        ("recipient.failed", "r00001"),
        ("recipient.delivered", "r00002"),
    ]
    assert all(e.data["send_id"] == "nsnd_1" and e.data["kind"] == "notification" for e in events)
    assert events[0].data["phone"] == "+821012345678" and events[0].data["next_retry_at"] is None


def test_no_event_when_nothing_a_client_is_told_about_changed() -> None:
    failed = _recipient("r00000", status="FAILED", reason="PROVIDER_ERROR", resendable=True)
    resent = _recipient("r00000", status="PENDING", round=1)  # a resend: back to PENDING
    assert recipient_events(_batch(failed), [resent], NOW) == []
    assert settlement_events(_batch(failed), [resent], NOW) == ()


def test_a_big_batch_is_split_into_outbox_items_and_the_last_asks_for_the_completion_check() -> None:
    before = [_recipient(f"r{n:05d}") for n in range(120)]
    after = [r.model_copy(update={"status": "SENT", "sent_at": NOW}) for r in before]
    items = settlement_events(_batch(*before), after, NOW)
    assert [len(i.detail["events"]) for i in items] == [EVENTS_PER_OUTBOX_ITEM, EVENTS_PER_OUTBOX_ITEM, 20]
    assert [i.detail["completion_check"] for i in items] == [None, None, {"kind": "NOTIFICATION", "send_id": "nsnd_1"}]
    taken = published_events(ACCOUNT_EVENTS, items[-1].detail, NOW)
    assert taken is not None and taken.account_id == "acc_1" and len(taken.events) == 20
    assert taken.completion_check is not None and taken.completion_check.send_id == "nsnd_1"


def test_balance_low_keeps_its_event_id() -> None:
    detail = {"account_id": "acc_1", "balance": "credits", "value": 4, "threshold": 5, "event_id": "evt_9"}
    taken = published_events("BalanceLow", detail, NOW)
    assert taken is not None and taken.events[0].event_id == "evt_9" and taken.events[0].type == "balance.low"
    assert published_events("WinnersRecorded", {}, NOW) is None


def test_a_delivery_id_is_stable_per_event_and_webhook_and_sorts_by_time() -> None:
    event = AccountEvent(event_id="evt_1", type="recipient.sent", occurred_at=NOW, data={})
    later = event.model_copy(update={"event_id": "evt_2", "occurred_at": NOW + timedelta(seconds=1)})
    assert delivery_id_for(event, "whk_1") == delivery_id_for(event, "whk_1") != delivery_id_for(event, "whk_2")
    assert delivery_id_for(event, "whk_1") < delivery_id_for(later, "whk_1")


def test_the_body_is_the_contracts_envelope_in_utf8() -> None:
    event = AccountEvent(event_id="evt_1", type="recipient.sent", occurred_at=NOW, data={"name": "김민지"})
    assert (
        event_body(event) == '{"type":"recipient.sent","timestamp":"2026-12-02T03:00:00.000Z","data":{"name":"김민지"}}'
    )


def test_the_production_schedule_tries_at_least_5_times_over_at_least_24_hours() -> None:
    schedule = RetrySchedule(PRODUCTION_DELAYS)
    assert schedule.attempts >= 5
    shortest = sum(d * (1 - schedule.jitter) for d in PRODUCTION_DELAYS)
    assert shortest >= 24 * 3600
    first = schedule.delay_after(1, lambda: 1.0)
    assert first is not None and first <= timedelta(minutes=1)  # the first retry within about a minute


@pytest.mark.parametrize("draw", [0.0, 0.5, 1.0])
def test_delays_grow_jittered_and_end(draw: float) -> None:
    schedule = RetrySchedule((10, 100))
    assert schedule.delay_after(1, lambda: draw) == timedelta(seconds=10 * (0.8 + 0.4 * draw))
    assert schedule.delay_after(2, lambda: draw) == timedelta(seconds=100 * (0.8 + 0.4 * draw))
    assert schedule.delay_after(3, lambda: draw) is None
