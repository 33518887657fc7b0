"""Notification sends and automatic winner notifications on the deployed stack, with delivered messages
checked in MiniStack's SES and SNS views."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from tests.e2e.conftest import (
    AccountFactory,
    Client,
    Stack,
    all_pages,
    create_promotion,
    parse_time,
    unique,
    wait_completed,
    wait_settled,
)


def _counts(client: Client) -> dict[str, int]:
    return dict(client.get("/account").body["notification_balance"])


def _ministack(stack: Stack, view: str, **params: str) -> Any:
    endpoint = stack.env["AWS_ENDPOINT_URL"]
    reply = requests.get(f"{endpoint}/_ministack/{view}", params=params, timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()


def _send(client: Client, body: dict[str, Any]) -> str:
    reply = client.post("/notification-sends", body)
    assert reply.status == 202, reply
    return str(reply.body["send_id"])


def test_sms_and_lms_outcomes_and_exact_counts(stack: Stack, new_account: AccountFactory) -> None:
    client = new_account(credits=10_000)
    assert client.post("/charges", {"channel": "sms", "quantity": 10}).status == 201
    assert client.post("/charges", {"channel": "lms", "quantity": 2}).status == 201
    marker = unique("m")[-8:]
    long_name = "가" * 40
    send_id = _send(
        client,
        {
            "promotion_id": create_promotion(client),
            "channel": "auto",
            "content": f"{{name}} won {marker}",
            "recipients": [
                {"phone": "010-4100-0001", "name": "Kim"},  # short: sms
                {"phone": "010-4100-0002", "name": long_name},  # long: lms
                {"phone": "010-4100-0000", "name": "Gone"},  # number does not exist
                {"phone": "010-4100-9999", "name": "Down"},  # provider keeps failing
                {"phone": "010-4100-8888", "name": "Flaky"},  # fails twice, then delivered
                {"phone": "not a phone", "name": "Bad"},
            ],
        },
    )
    final = wait_settled(client, send_id, sends="notification-sends")
    # "Down" waits for its automatic retry: the send is not finished (v1.1).
    assert (final["origin"], final["channel"], final["status"]) == ("MANUAL", "auto", "PROCESSING")
    assert final["counts"] == {"total": 6, "pending": 0, "sent": 3, "failed": 3, "resendable": 1}
    recipients = {r["name"]: r for r in all_pages(client, f"/notification-sends/{send_id}/recipients")}
    assert (recipients["Kim"]["channel"], recipients["Kim"]["status"]) == ("sms", "SENT")
    assert (recipients[long_name]["channel"], recipients[long_name]["status"]) == ("lms", "SENT")
    assert recipients["Gone"]["failure_reason"] == "INVALID_RECIPIENT"
    assert (recipients["Down"]["failure_reason"], recipients["Down"]["resendable"]) == ("PROVIDER_ERROR", True)
    assert parse_time(recipients["Down"]["next_retry_at"]) > parse_time(recipients["Down"]["updated_at"])
    assert [n for n, r in recipients.items() if r["next_retry_at"] is not None] == ["Down"]
    assert (recipients["Flaky"]["status"], recipients["Flaky"]["attempts"]) == ("SENT", 3)
    assert recipients["Bad"]["failure_reason"] == "INVALID_RECIPIENT"
    assert _counts(client) == {"sms": 8, "lms": 1, "email": 0}  # sms: Kim and Flaky; lms: the long name

    delivered = _ministack(stack, "sns/sms-messages", phoneNumber="+821041000001")
    assert marker in str(delivered)
    ledger = all_pages(client, "/account/ledger")
    for channel in ("sms", "lms"):
        total = sum(
            e["notification_delta"]["count"]
            for e in ledger
            if e["notification_delta"] and e["notification_delta"]["channel"] == channel
        )
        assert total == _counts(client)[channel]


def test_email_delivered_through_ses(stack: Stack, new_account: AccountFactory) -> None:
    client = new_account(credits=1_000)
    assert client.post("/charges", {"channel": "email", "quantity": 3}).status == 201
    subject = unique("Prize")
    send_id = _send(
        client,
        {
            "promotion_id": create_promotion(client),
            "channel": "email",
            "title": subject,
            "content": "Dear {name}, you won.",
            "recipients": [
                {"email": "kim@example.com", "name": "Kim"},
                {"email": "x@invalid.example"},
                {"email": "y@fail.example"},
            ],
        },
    )
    final = wait_settled(client, send_id, sends="notification-sends")  # y@fail.example waits for a retry
    assert (final["counts"]["sent"], final["counts"]["failed"]) == (1, 2)
    assert _counts(client)["email"] == 2
    assert subject in str(_ministack(stack, "ses/messages"))


def test_counts_run_out_and_are_taken_oldest_charge_first(new_account: AccountFactory) -> None:
    client = new_account(credits=10_000)
    older = client.post("/charges", {"channel": "sms", "quantity": 2}).body["charge_id"]
    newer = client.post("/charges", {"channel": "sms", "quantity": 2}).body["charge_id"]
    send_id = _send(
        client,
        {
            "promotion_id": create_promotion(client),
            "channel": "sms",
            "content": "hi",
            "recipients": [{"phone": "010-4200-0001"}],
        },
    )
    wait_completed(client, send_id, sends="notification-sends")
    assert client.post(f"/charges/{older}/refund").body["code"] == "REFUND_NOT_ALLOWED"  # its count was used
    assert client.post(f"/charges/{newer}/refund").status == 200
    short = _send(
        client,
        {
            "promotion_id": create_promotion(client),
            "channel": "sms",
            "content": "hi",
            "recipients": [{"phone": f"010-4300-{i:04d}"} for i in range(1, 4)],
        },
    )
    final = wait_completed(client, short, sends="notification-sends")
    assert (final["counts"]["sent"], final["counts"]["failed"], final["counts"]["resendable"]) == (1, 2, 2)
    failed = all_pages(client, f"/notification-sends/{short}/recipients", status="FAILED")
    assert {r["failure_reason"] for r in failed} == {"INSUFFICIENT_NOTIFICATION_BALANCE"}
    assert _counts(client)["sms"] == 0


def test_recorded_winners_get_the_automatic_notification(new_account: AccountFactory) -> None:
    client = new_account(credits=1_000)
    assert client.post("/charges", {"channel": "sms", "quantity": 5}).status == 201
    promotion_id = create_promotion(client)
    auto = {"enabled": True, "channel": "sms", "content": "{name}, you won!"}
    assert client.put(f"/promotions/{promotion_id}/auto-notification", auto).status == 200
    winners = [{"name": "Kim", "phone": "010-4400-0001"}, {"name": "Lee", "phone": "010-4400-0002"}]
    started = time.monotonic()
    assert client.post(f"/promotions/{promotion_id}/winners", {"winners": winners}).body == {"accepted": 2}
    assert [w["name"] for w in client.get(f"/promotions/{promotion_id}/winners").body["items"]] == ["Kim", "Lee"]

    sends: list[dict[str, Any]] = []
    while time.monotonic() - started < 90 and not sends:
        sends = client.get("/notification-sends", params={"promotion_id": promotion_id}).body["items"]
        time.sleep(1)
    assert sends, "no automatic send within 90 s"
    assert sends[0]["origin"] == "AUTO"
    final = wait_completed(
        client, sends[0]["send_id"], timeout=90 - (time.monotonic() - started), sends="notification-sends"
    )
    assert final["counts"]["sent"] == 2
    assert time.monotonic() - started < 90


def test_two_sends_racing_for_the_last_counts(new_account: AccountFactory) -> None:
    client = new_account(credits=1_000)
    assert client.post("/charges", {"channel": "sms", "quantity": 5}).status == 201
    promotion_id = create_promotion(client)
    bodies = [
        {
            "promotion_id": promotion_id,
            "channel": "sms",
            "content": "hi",
            "recipients": [{"phone": f"010-45{n}0-{i:04d}"} for i in range(1, 5)],
        }
        for n in range(2)
    ]
    with ThreadPoolExecutor(max_workers=2) as pool:
        send_ids = list(pool.map(lambda body: _send(client.with_new_session(), body), bodies))
    finals = [wait_completed(client, s, sends="notification-sends") for s in send_ids]
    assert sum(f["counts"]["sent"] for f in finals) == 5
    assert sum(f["counts"]["failed"] for f in finals) == 3
    assert _counts(client)["sms"] == 0
    ledger = all_pages(client, "/account/ledger")
    assert sum(e["notification_delta"]["count"] for e in ledger if e["notification_delta"]) == 0
