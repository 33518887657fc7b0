"""Charges on the deployed stack: pricing, buying counts, refusal without credits, refunds."""

from __future__ import annotations

from tests.e2e.conftest import AccountFactory


def test_pricing(new_account: AccountFactory) -> None:
    reply = new_account().get("/pricing")
    assert reply.status == 200
    assert reply.body == {"notification_unit_credits": {"sms": 20, "lms": 50, "email": 5}}


def test_buy_refund_and_ledger(new_account: AccountFactory) -> None:
    client = new_account(credits=2_000)
    older = client.post("/charges", {"channel": "sms", "quantity": 10}, headers={"Idempotency-Key": "c-1"})
    assert older.status == 201
    assert (older.body["credits_spent"], older.body["status"]) == (200, "ACTIVE")
    replay = client.post("/charges", {"channel": "sms", "quantity": 10}, headers={"Idempotency-Key": "c-1"})
    assert replay.body == older.body
    newer = client.post("/charges", {"channel": "sms", "quantity": 5})
    assert newer.status == 201

    account = client.get("/account").body
    assert (account["credits"], account["notification_balance"]["sms"]) == (2_000 - 300, 15)

    refund = client.post(f"/charges/{newer.body['charge_id']}/refund")
    assert refund.body == {"charge_id": newer.body["charge_id"], "status": "REFUNDED", "credits_refunded": 100}
    again = client.post(f"/charges/{newer.body['charge_id']}/refund")
    assert (again.status, again.body["code"]) == (409, "REFUND_NOT_ALLOWED")
    account = client.get("/account").body
    assert (account["credits"], account["notification_balance"]["sms"]) == (2_000 - 200, 10)

    listed = {c["charge_id"]: c["status"] for c in client.get("/charges").body["items"]}
    assert listed == {older.body["charge_id"]: "ACTIVE", newer.body["charge_id"]: "REFUNDED"}
    ledger = client.get("/account/ledger", params={"limit": "200"}).body["items"]
    assert [e["type"] for e in ledger] == ["CHARGE_REFUND", "CHARGE_PURCHASE", "CHARGE_PURCHASE", "TOP_UP"]
    assert sum(e["credits_delta"] for e in ledger) == account["credits"]
    assert sum(e["notification_delta"]["count"] for e in ledger if e["notification_delta"]) == 10


def test_insufficient_credits_changes_nothing(new_account: AccountFactory) -> None:
    client = new_account(credits=40)
    reply = client.post("/charges", {"channel": "lms", "quantity": 1})
    assert (reply.status, reply.body["code"]) == (409, "INSUFFICIENT_CREDITS")
    assert client.get("/account").body["credits"] == 40
    assert client.get("/charges").body["items"] == []


def test_alert_thresholds_round_trip(new_account: AccountFactory) -> None:
    client = new_account()
    body = {"credits_below": 1_000, "counts_below": {"email": 3}}
    assert client.put("/account/alerts", body).body == body
    assert client.get("/account/alerts").body == body
