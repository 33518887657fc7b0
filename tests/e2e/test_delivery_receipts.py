"""Delivery receipts on the deployed stack (contract v1.1): a notification accepted by the sandbox provider is
SENT, and the provider's later report settles it, through the stack's real report path (SMS: the report poller's
one-minute schedule and the report queue; email: SES-shaped events on the default bus, the report rule and the
same queue).

One SMS send and one email send start together and are watched in parallel, so the whole module waits about
one report cycle (the poller runs each minute, SMS reports are due about 20 s after acceptance, the queue delays
each message 10 s). The tests read what the watch saw."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

from tests.e2e.conftest import (
    Client,
    all_pages,
    assert_counts_consistent,
    create_promotion,
    make_account,
    parse_time,
    utc_now,
    wait_settled,
)

REPORT_TIMEOUT = 150.0  # "within about a minute", plus one poller period and the queue's delay on a busy machine
WATCH_INTERVAL = 1.0

DELIVERED_PHONE, DELIVERED_E164 = "010-4700-0001", "+821047000001"
UNKNOWN_PHONE, UNKNOWN_E164 = "010-4700-7777", "+821047007777"
UNDELIVERED_PHONE, UNDELIVERED_E164 = "010-4700-6666", "+821047006666"
DELIVERED_EMAIL, BOUNCE_EMAIL = "kim@example.com", "lee@bounce.example"
CHARGED = 5  # counts bought per channel


@dataclass
class Watched:
    """One send as the watch saw it: its view and recipients when nothing was pending any more, the status
    sequence of each recipient until its report settled it, and the views once every report was in."""

    send_id: str
    posted_at: datetime
    settled: dict[str, Any]
    first_rows: dict[str, dict[str, Any]]
    final: dict[str, Any] = field(default_factory=dict)
    final_rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    seen: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Receipts:
    client: Client
    sms: Watched
    email: Watched


def _address(row: dict[str, Any]) -> str:
    return str(row["email"] or row["phone"])


def _rows(client: Client, send_id: str) -> dict[str, dict[str, Any]]:
    return {_address(r): r for r in all_pages(client, f"/notification-sends/{send_id}/recipients")}


def _reported(row: dict[str, Any]) -> bool:
    """True once the provider's report has settled the recipient."""
    return row["status"] == "FAILED" or row["delivered_at"] is not None


def _watch(client: Client, body: dict[str, Any], deadline: float) -> Watched:
    client = client.with_new_session()
    posted_at = utc_now()
    reply = client.post("/notification-sends", body)
    assert reply.status == 202, reply
    send_id = str(reply.body["send_id"])
    settled = wait_settled(client, send_id, sends="notification-sends")
    rows = _rows(client, send_id)
    watched = Watched(send_id, posted_at, settled, rows, seen={a: [r["status"]] for a, r in rows.items()})
    while time.monotonic() < deadline:
        rows = _rows(client, send_id)
        for address, row in rows.items():
            if watched.seen[address][-1] != row["status"]:
                watched.seen[address].append(row["status"])
        if all(_reported(r) for r in rows.values()):
            break
        time.sleep(WATCH_INTERVAL)
    watched.final_rows = rows
    view = client.get(f"/notification-sends/{send_id}")
    assert view.status == 200, view
    watched.final = view.body
    return watched


@pytest.fixture(scope="module")
def receipts(admin: Client) -> Receipts:
    client = make_account(admin, "Receipts Shop", credits=10_000)
    for channel in ("sms", "email"):
        assert client.post("/charges", {"channel": channel, "quantity": CHARGED}).status == 201
    promotion_id = create_promotion(client, "Receipts")
    sms = {
        "promotion_id": promotion_id,
        "channel": "sms",
        "content": "{name}, you won",
        "recipients": [
            {"phone": DELIVERED_PHONE, "name": "Kim"},
            {"phone": UNKNOWN_PHONE, "name": "Gone"},
            {"phone": UNDELIVERED_PHONE, "name": "Off"},
        ],
    }
    email = {
        "promotion_id": promotion_id,
        "channel": "email",
        "title": "You won",
        "content": "Dear {name}, you won.",
        "recipients": [{"email": DELIVERED_EMAIL, "name": "Kim"}, {"email": BOUNCE_EMAIL, "name": "Lee"}],
    }
    deadline = time.monotonic() + REPORT_TIMEOUT
    with ThreadPoolExecutor(max_workers=2) as pool:
        sms_watch, email_watch = pool.map(lambda body: _watch(client, body, deadline), [sms, email])
    return Receipts(client, sms_watch, email_watch)


def _counts(client: Client) -> dict[str, int]:
    reply = client.get("/account")
    assert reply.status == 200, reply
    return dict(reply.body["notification_balance"])


def test_accepted_messages_are_sent_and_not_yet_delivered(receipts: Receipts) -> None:
    for watched in (receipts.sms, receipts.email):
        assert watched.settled["counts"]["pending"] == 0, watched.settled
        for address, row in watched.first_rows.items():
            # Accepted by the provider: SENT, one count used, its report still to come.
            assert (row["status"], row["failure_reason"]) == ("SENT", None), (address, row)
            assert "delivered_at" in row and row["delivered_at"] is None, (address, row)
            assert parse_time(row["sent_at"]) <= utc_now(), row


def test_every_report_arrives_in_time(receipts: Receipts) -> None:
    for watched in (receipts.sms, receipts.email):
        late = {a: r["status"] for a, r in watched.final_rows.items() if not _reported(r)}
        assert not late, f"no report within {REPORT_TIMEOUT:.0f}s for {late}; seen {watched.seen}"


def test_delivered_messages_stay_sent_and_get_delivered_at(receipts: Receipts) -> None:
    for watched, address in ((receipts.sms, DELIVERED_E164), (receipts.email, DELIVERED_EMAIL)):
        row = watched.final_rows[address]
        assert watched.seen[address] == ["SENT"], watched.seen
        assert (row["status"], row["failure_reason"], row["next_retry_at"]) == ("SENT", None, None), row
        assert row["delivered_at"] is not None, row
        # The provider's time of delivery. (Not compared with sent_at: that is when the batch was written, which
        # may be a moment after the provider took the message.)
        assert watched.posted_at <= parse_time(row["delivered_at"]) <= utc_now(), row


def test_unknown_subscriber_and_hard_bounce_are_invalid_recipients(receipts: Receipts) -> None:
    for watched, address in ((receipts.sms, UNKNOWN_E164), (receipts.email, BOUNCE_EMAIL)):
        row = watched.final_rows[address]
        assert watched.seen[address] == ["SENT", "FAILED"], watched.seen
        assert (row["status"], row["failure_reason"], row["resendable"]) == ("FAILED", "INVALID_RECIPIENT", False)
        assert (row["delivered_at"], row["next_retry_at"]) == (None, None), row
        resend = receipts.client.post(f"/notification-sends/{watched.send_id}/recipients/{row['recipient_id']}/resend")
        assert (resend.status, resend.body["code"]) == (409, "NOT_RESENDABLE"), resend


def test_undelivered_sms_is_a_provider_error_retried_automatically(receipts: Receipts) -> None:
    row = receipts.sms.final_rows[UNDELIVERED_E164]
    assert receipts.sms.seen[UNDELIVERED_E164] == ["SENT", "FAILED"], receipts.sms.seen
    assert (row["status"], row["failure_reason"], row["resendable"]) == ("FAILED", "PROVIDER_ERROR", True), row
    assert row["delivered_at"] is None, row
    # Automatic retries remain (AutoRetryRounds): the service says when it will send it again.
    assert row["next_retry_at"] is not None, row
    assert parse_time(row["next_retry_at"]) > parse_time(row["updated_at"]), row


def test_the_sends_counters_agree_with_the_reports(receipts: Receipts) -> None:
    sms, email = receipts.sms.final, receipts.email.final
    assert_counts_consistent(sms)
    assert_counts_consistent(email)
    assert sms["counts"] == {"total": 3, "pending": 0, "sent": 1, "failed": 2, "resendable": 1}, sms
    assert sms["status"] == "PROCESSING", sms  # the provider error waits for its automatic retry
    assert email["counts"] == {"total": 2, "pending": 0, "sent": 1, "failed": 1, "resendable": 0}, email
    assert email["status"] == "COMPLETED", email


def test_reported_failures_give_their_counts_back(receipts: Receipts) -> None:
    client = receipts.client
    # Only the delivered messages cost a count. (The provider error's automatic retry is a minute or more
    # away: AutoRetryBaseSeconds after its report.)
    assert _counts(client) == {"sms": CHARGED - 1, "lms": 0, "email": CHARGED - 1}
    ledger = all_pages(client, "/account/ledger")
    refunds = [e for e in ledger if e["type"] == "NOTIFICATION_REFUND"]
    given_back = {
        (send_id, channel): sum(
            e["notification_delta"]["count"]
            for e in refunds
            if e["send_id"] == send_id and e["notification_delta"]["channel"] == channel
        )
        for send_id, channel in ((receipts.sms.send_id, "sms"), (receipts.email.send_id, "email"))
    }
    assert given_back == {(receipts.sms.send_id, "sms"): 2, (receipts.email.send_id, "email"): 1}, refunds
    assert all(e["quantity"] == e["notification_delta"]["count"] for e in refunds), refunds
    for channel, balance in _counts(client).items():
        total = sum(
            e["notification_delta"]["count"]
            for e in ledger
            if e["notification_delta"] and e["notification_delta"]["channel"] == channel
        )
        assert total == balance, (channel, ledger)
