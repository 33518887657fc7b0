"""Resends after a top-up, drafts, cancels, scheduled sends and automatic retries on the deployed stack (with its
real schedules)."""

from __future__ import annotations

import time
from datetime import timedelta

from tests.e2e.conftest import (
    ALWAYS_FAILS_E164,
    ALWAYS_FAILS_PHONE,
    AccountFactory,
    Client,
    all_pages,
    create_promotion,
    gift_send_body,
    parse_time,
    unique,
    utc_now,
    wait_completed,
    wait_settled,
)

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
    body = {
        "promotion_id": create_promotion(client),
        "channel": "email",
        "title": "You won",
        "content": "Hi",
        "recipients": [{"email": f"w{i}@example.com"} for i in range(3)],
    }
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
    view = client.get(f"/gift-sends/{cancelled['send_id']}").body
    assert view["status"] == "CANCELLED"
    # v1.1: its recipients end FAILED / CANCELLED, so nothing is pending.
    assert view["counts"] == {"total": 1, "pending": 0, "sent": 0, "failed": 1, "resendable": 0}
    (recipient,) = all_pages(client, f"/gift-sends/{cancelled['send_id']}/recipients")
    assert (recipient["status"], recipient["failure_reason"], recipient["resendable"]) == ("FAILED", "CANCELLED", False)
    assert (recipient["charged_credits"], recipient["next_retry_at"]) == (0, None)
    assert client.get("/account").body["credits"] == PRICE  # only the send that fired was charged


def test_a_cancelled_draft_has_nothing_pending_and_nothing_to_resend(new_account: AccountFactory) -> None:
    client = new_account(credits=1_000)
    assert client.post("/charges", {"channel": "sms", "quantity": 2}).status == 201
    body = {
        "promotion_id": create_promotion(client),
        "channel": "sms",
        "content": "hi",
        "draft": True,
        "recipients": [{"phone": "010-5400-0001"}, {"phone": "010-5400-0002"}, {"phone": "not a phone"}],
    }
    send_id = client.post("/notification-sends", body).body["send_id"]
    cancelled = client.post(f"/notification-sends/{send_id}/cancel")
    assert cancelled.status == 200, cancelled
    assert cancelled.body["status"] == "CANCELLED"
    assert cancelled.body["counts"] == {"total": 3, "pending": 0, "sent": 0, "failed": 3, "resendable": 0}
    recipients = all_pages(client, f"/notification-sends/{send_id}/recipients")
    assert [r["failure_reason"] for r in recipients] == ["CANCELLED", "CANCELLED", "INVALID_RECIPIENT"]
    assert all(r["status"] == "FAILED" and not r["resendable"] for r in recipients), recipients
    assert all_pages(client, f"/notification-sends/{send_id}/recipients", status="PENDING") == []
    assert client.post(f"/notification-sends/{send_id}/resend").body["code"] == "INVALID_STATE"
    single = client.post(f"/notification-sends/{send_id}/recipients/{recipients[0]['recipient_id']}/resend")
    assert single.body["code"] == "INVALID_STATE", single
    assert client.post(f"/notification-sends/{send_id}/submit").body["code"] == "INVALID_STATE"
    time.sleep(3)
    assert client.get("/account").body["notification_balance"]["sms"] == 2  # no count used


def test_a_provider_error_is_retried_by_the_service_when_next_retry_at_says(new_account: AccountFactory) -> None:
    client = new_account(credits=10 * PRICE)
    body = gift_send_body(create_promotion(client), ["010-5500-0001", ALWAYS_FAILS_PHONE])
    send_id = client.post("/gift-sends", body).body["send_id"]
    first = wait_settled(client, send_id)
    # v1.1: nothing pending, but the provider error waits for its automatic retry, so the send is not finished.
    assert (first["status"], first["counts"]["sent"], first["counts"]["failed"]) == ("PROCESSING", 1, 1)
    recipients = {r["phone"]: r for r in all_pages(client, f"/gift-sends/{send_id}/recipients")}
    assert [p for p, r in recipients.items() if r["next_retry_at"] is not None] == [ALWAYS_FAILS_E164]
    failed = recipients[ALWAYS_FAILS_E164]
    assert (failed["status"], failed["failure_reason"]) == ("FAILED", "PROVIDER_ERROR")
    failed_at, retry_at = parse_time(failed["updated_at"]), parse_time(failed["next_retry_at"])
    assert timedelta(0) < retry_at - failed_at <= timedelta(minutes=5), failed  # AutoRetryBaseSeconds

    # The retry job resends it at (within about a minute after) that time, not before.
    deadline = time.monotonic() + (retry_at - utc_now()).total_seconds() + 150
    again = failed
    while time.monotonic() < deadline:
        again = next(
            r for r in all_pages(client, f"/gift-sends/{send_id}/recipients") if r["phone"] == ALWAYS_FAILS_E164
        )
        if again["attempts"] > failed["attempts"] and again["status"] == "FAILED":
            break
        time.sleep(2)
    assert again["attempts"] > failed["attempts"], f"not retried by {retry_at}: {again}"
    assert parse_time(again["updated_at"]) >= retry_at - timedelta(seconds=1), again
    # The next round waits longer (the backoff doubles), or no retry is left.
    if again["next_retry_at"] is not None:
        later = parse_time(again["next_retry_at"]) - parse_time(again["updated_at"])
        assert later > retry_at - failed_at, again
    assert client.get("/account").body["credits"] == 9 * PRICE  # provider errors are refunded
