"""Charges over the API and the count rules underneath: oldest charge first, refunds, alerts."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import boto3
import pytest

from shared.adapters.store import DataStore
from shared.domain.charges import charges
from shared.domain.clock import utc_now
from shared.models.items import OutboxEvent
from tests.integration.api_client import new_account
from tests.integration.conftest import TABLE
from tests.integration.money import assert_ledger_matches_balance, use_counts


def _store() -> DataStore:
    return DataStore(boto3.client("dynamodb"), TABLE)


class RecordingPublisher:
    """Keeps the BalanceLow events it is given (sends also publish their account events)."""

    def __init__(self) -> None:
        self.events: list[OutboxEvent] = []

    def publish(self, events: Any) -> None:
        self.events.extend(e for e in events if e.detail_type == "BalanceLow")


def test_pricing_comes_from_configuration(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LMS_UNIT_CREDITS", "45")
    from shared.settings import api_settings

    api_settings.cache_clear()
    assert new_account().get("/pricing").body == {"notification_unit_credits": {"sms": 20, "lms": 45, "email": 5}}


def test_buying_counts_moves_credits_to_counts_atomically(aws: dict[str, Any]) -> None:
    client = new_account(credits=1_000)
    reply = client.post("/charges", {"channel": "sms", "quantity": 30})
    assert reply.status == 201
    charge = reply.body
    assert (charge["channel"], charge["quantity"], charge["credits_spent"], charge["status"]) == (
        "sms",
        30,
        600,
        "ACTIVE",
    )
    assert charge["refundable_until"] > charge["created_at"]
    account = client.get("/account").body
    assert account["credits"] == 400
    assert account["notification_balance"] == {"sms": 30, "lms": 0, "email": 0}
    (entry, _top_up) = client.get("/account/ledger").body["items"]
    assert entry["type"] == "CHARGE_PURCHASE"
    assert (entry["credits_delta"], entry["notification_delta"], entry["charge_id"]) == (
        -600,
        {"channel": "sms", "count": 30},
        charge["charge_id"],
    )
    assert_ledger_matches_balance(_store(), client.account_id)


def test_insufficient_credits_changes_nothing(aws: dict[str, Any]) -> None:
    client = new_account(credits=99)
    reply = client.post("/charges", {"channel": "lms", "quantity": 2})
    assert (reply.status, reply.body["code"]) == (409, "INSUFFICIENT_CREDITS")
    assert client.get("/account").body["credits"] == 99
    assert client.get("/charges").body["items"] == []
    assert len(client.get("/account/ledger").body["items"]) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"channel": "fax", "quantity": 1},
        {"channel": "sms", "quantity": 0},
        {"channel": "sms", "quantity": "3"},
        {"channel": "sms"},
    ],
)
def test_bad_charge_requests_are_422(aws: dict[str, Any], body: dict) -> None:
    assert new_account(credits=1_000).post("/charges", body).status == 422


def test_charge_idempotency_key(aws: dict[str, Any]) -> None:
    client = new_account(credits=1_000)
    body = {"channel": "email", "quantity": 10}
    first = client.post("/charges", body, headers={"Idempotency-Key": "buy-1"})
    again = client.post("/charges", body, headers={"Idempotency-Key": "buy-1"})
    assert first.body == again.body
    assert client.get("/account").body["credits"] == 950
    other = client.post("/charges", {"channel": "email", "quantity": 11}, headers={"Idempotency-Key": "buy-1"})
    assert (other.status, other.body["code"]) == (409, "IDEMPOTENCY_KEY_REUSED")


def _use(aws: dict[str, Any], client: Any, channel: Any, wanted: int, publisher: Any = None) -> int:
    return use_counts(
        _store(), aws["sqs"], aws["notification_queue_url"], client.account_id, channel, wanted, publisher
    )


def test_refund_rules_with_two_charges_on_one_channel(aws: dict[str, Any]) -> None:
    client = new_account(credits=10_000)
    older = client.post("/charges", {"channel": "sms", "quantity": 10}).body["charge_id"]
    newer = client.post("/charges", {"channel": "sms", "quantity": 5}).body["charge_id"]
    # Three counts are used: they come from the older charge.
    assert _use(aws, client, "sms", 3) == 3

    refused = client.post(f"/charges/{older}/refund")
    assert (refused.status, refused.body["code"]) == (409, "REFUND_NOT_ALLOWED")
    refunded = client.post(f"/charges/{newer}/refund")
    assert refunded.status == 200
    assert refunded.body == {"charge_id": newer, "status": "REFUNDED", "credits_refunded": 100}
    assert client.post(f"/charges/{newer}/refund").status == 409  # only once
    account = client.get("/account").body
    assert (account["credits"], account["notification_balance"]["sms"]) == (10_000 - 200 - 100 + 100, 7)
    statuses = {c["charge_id"]: c["status"] for c in client.get("/charges").body["items"]}
    assert statuses == {older: "ACTIVE", newer: "REFUNDED"}
    assert_ledger_matches_balance(_store(), client.account_id)


def test_counts_are_used_oldest_charge_first_across_charges(aws: dict[str, Any]) -> None:
    client = new_account(credits=10_000)
    first = client.post("/charges", {"channel": "lms", "quantity": 2}).body["charge_id"]
    second = client.post("/charges", {"channel": "lms", "quantity": 2}).body["charge_id"]
    third = client.post("/charges", {"channel": "lms", "quantity": 2}).body["charge_id"]
    assert _use(aws, client, "lms", 3) == 3
    assert client.post(f"/charges/{first}/refund").status == 409
    assert client.post(f"/charges/{second}/refund").status == 409
    assert client.post(f"/charges/{third}/refund").status == 200
    assert _use(aws, client, "lms", 5) == 1  # only one left
    assert client.get("/account").body["notification_balance"]["lms"] == 0
    assert_ledger_matches_balance(_store(), client.account_id)


def test_refund_window_is_seven_days(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    client = new_account(credits=1_000)
    charge_id = client.post("/charges", {"channel": "sms", "quantity": 1}).body["charge_id"]
    later = utc_now() + timedelta(days=7, minutes=1)
    monkeypatch.setattr(charges, "utc_now", lambda: later)
    reply = client.post(f"/charges/{charge_id}/refund")
    assert (reply.status, reply.body["code"]) == (409, "REFUND_NOT_ALLOWED")


def test_charges_of_another_account_are_404(aws: dict[str, Any]) -> None:
    owner, other = new_account("Owner", credits=1_000), new_account("Other")
    charge_id = owner.post("/charges", {"channel": "sms", "quantity": 1}).body["charge_id"]
    assert other.post(f"/charges/{charge_id}/refund").status == 404
    assert other.get("/charges").body["items"] == []


def test_alerts_round_trip(aws: dict[str, Any]) -> None:
    client = new_account()
    assert client.get("/account/alerts").body == {"credits_below": None, "counts_below": {}}
    body = {"credits_below": 5_000, "counts_below": {"sms": 10}}
    assert client.put("/account/alerts", body).body == body
    assert client.get("/account/alerts").body == body
    assert client.put("/account/alerts", {"credits_below": -1}).status == 422
    assert client.put("/account/alerts", {"counts_below": {"fax": 1}}).status == 422


def test_one_balance_low_event_per_crossing(aws: dict[str, Any]) -> None:
    client = new_account(credits=1_000)
    client.put("/account/alerts", {"credits_below": 500, "counts_below": {"sms": 5}})
    publisher = RecordingPublisher()
    store = _store()
    charges.buy_counts(store, publisher, client.account_id, "sms", 10, 20)  # 1000 -> 800: no crossing
    assert publisher.events == []
    charges.buy_counts(store, publisher, client.account_id, "sms", 20, 20)  # 800 -> 400: crosses 500
    assert [e.detail["balance"] for e in publisher.events] == ["credits"]
    assert publisher.events[0].detail | {"event_id": ""} == {
        "account_id": client.account_id,
        "balance": "credits",
        "value": 400,
        "threshold": 500,
        "event_id": "",
    }
    charges.buy_counts(store, publisher, client.account_id, "sms", 5, 20)  # 400 -> 300: already below
    assert len(publisher.events) == 1
    _use(aws, client, "sms", 30, publisher)  # sms 35 -> 5: not below 5
    assert len(publisher.events) == 1
    _use(aws, client, "sms", 1, publisher)  # 5 -> 4: crosses
    assert [(e.detail["balance"], e.detail["value"]) for e in publisher.events[1:]] == [("sms", 4)]
    assert store.stale_outbox(utc_now() + timedelta(hours=1)) == []  # published, so nothing left over


def test_unpublished_events_are_sent_by_the_dispatcher(aws: dict[str, Any]) -> None:
    from shared.domain.events.alerts import publish_stale_outbox

    client = new_account(credits=1_000)
    client.put("/account/alerts", {"credits_below": 500})

    class Down:
        def publish(self, events: Any) -> None:
            raise RuntimeError("EventBridge unreachable")

    store = _store()
    charges.buy_counts(store, Down(), client.account_id, "sms", 30, 20)  # crossing committed, publish failed
    publisher = RecordingPublisher()
    assert publish_stale_outbox(store, publisher, utc_now()) == 0  # within the grace period
    assert publish_stale_outbox(store, publisher, utc_now() + timedelta(minutes=2)) == 1
    assert publisher.events[0].detail["balance"] == "credits"
    assert publish_stale_outbox(store, publisher, utc_now() + timedelta(minutes=2)) == 0


def test_events_left_in_the_outbox_can_be_published_as_json(aws: dict[str, Any]) -> None:
    """Read back from the table, an event's numbers are Decimals; the dispatcher's publisher serialises the detail."""
    client = new_account(credits=1_000)
    client.put("/account/alerts", {"credits_below": 500})
    store = _store()
    charges.buy_counts(store, None, client.account_id, "sms", 30, 20)  # the crossing stays in the outbox
    (event,) = store.stale_outbox(utc_now() + timedelta(minutes=2))
    assert json.loads(json.dumps(event.detail))["value"] == 400
    assert type(event.detail["threshold"]) is int
