"""Resends after a top-up, drafts, and scheduled sends on the deployed stack (with its real schedules)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from tests.e2e.conftest import (
    AccountFactory,
    Client,
    all_pages,
    create_promotion,
    gift_send_body,
    unique,
    utc_now,
    wait_completed,
)

pytestmark = pytest.mark.e2e
PRICE = 4_500


def _ledger_sums_to_credits(client: Client) -> None:
    ledger = all_pages(client, "/account/ledger")
    assert sum(e["credits_delta"] for e in ledger) == client.get("/account").body["credits"]


def test_insufficient_credits_story_for_gifts(admin: Client, new_account: AccountFactory) -> None:
    client = new_account(credits=2 * PRICE)
    body = gift_send_body(create_promotion(client), [f"010-5100-{i:04d}" for i in range(1, 6)])
    send_id = client.post("/gift-sends", body).body["send_id"]
    first = wait_completed(client, send_id)
    assert (first["counts"]["sent"], first["counts"]["failed"], first["counts"]["resendable"]) == (2, 3, 3)
    failed = all_pages(client, f"/gift-sends/{send_id}/recipients", status="FAILED")
    assert {r["failure_reason"] for r in failed} == {"INSUFFICIENT_CREDITS"}

    top_up = {"amount": 3 * PRICE, "reference": unique("topup")}
    assert admin.post(f"/admin/accounts/{client.account_id}/credits", top_up).status == 200
    assert client.post(f"/gift-sends/{send_id}/resend").body == {"resent": 3}
    final = wait_completed(client, send_id)
    assert final["counts"] == {"total": 5, "pending": 0, "sent": 5, "failed": 0, "resendable": 0}
    assert client.get("/account").body["credits"] == 0
    _ledger_sums_to_credits(client)


def test_insufficient_counts_story_for_notifications(new_account: AccountFactory) -> None:
    client = new_account(credits=1_000)
    assert client.post("/charges", {"channel": "email", "quantity": 1}).status == 201
    body = {"promotion_id": create_promotion(client), "channel": "email", "title": "You won", "content": "Hi",
            "recipients": [{"email": f"w{i}@example.com"} for i in range(3)]}
    send_id = client.post("/notification-sends", body).body["send_id"]
    first = wait_completed(client, send_id, sends="notification-sends")
    assert (first["counts"]["sent"], first["counts"]["resendable"]) == (1, 2)
    assert client.post("/charges", {"channel": "email", "quantity": 2}).status == 201
    assert client.post(f"/notification-sends/{send_id}/resend", {"channel": "email"}).body == {"resent": 2}
    final = wait_completed(client, send_id, sends="notification-sends")
    assert final["counts"]["sent"] == 3
    assert client.get("/account").body["notification_balance"]["email"] == 0


def test_draft_waits_for_submit_and_cancel_rules(new_account: AccountFactory) -> None:
    client = new_account(credits=PRICE)
    body = gift_send_body(create_promotion(client), ["010-5200-0001"], draft=True)
    send_id = client.post("/gift-sends", body).body["send_id"]
    time.sleep(3)
    assert client.get(f"/gift-sends/{send_id}").body["status"] == "DRAFT"
    assert client.get("/account").body["credits"] == PRICE
    assert client.post(f"/gift-sends/{send_id}/submit").body["status"] == "QUEUED"
    assert wait_completed(client, send_id)["counts"]["sent"] == 1
    assert client.post(f"/gift-sends/{send_id}/cancel").body["code"] == "INVALID_STATE"


def test_scheduled_send_fires_and_cancelled_one_never_does(new_account: AccountFactory) -> None:
    client = new_account(credits=2 * PRICE)
    promotion_id = create_promotion(client)
    send_at = (utc_now() + timedelta(seconds=15)).isoformat()
    fires = client.post("/gift-sends", gift_send_body(promotion_id, ["010-5300-0001"], send_at=send_at)).body
    cancelled = client.post("/gift-sends", gift_send_body(promotion_id, ["010-5300-0002"], send_at=send_at)).body
    assert fires["status"] == cancelled["status"] == "SCHEDULED"
    assert client.post(f"/gift-sends/{cancelled['send_id']}/cancel").body["status"] == "CANCELLED"

    final = wait_completed(client, fires["send_id"], timeout=150)
    assert final["counts"]["sent"] == 1
    assert client.get(f"/gift-sends/{cancelled['send_id']}").body["status"] == "CANCELLED"
    assert client.get("/account").body["credits"] == PRICE  # only the send that fired was charged
