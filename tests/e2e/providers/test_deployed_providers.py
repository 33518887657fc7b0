"""The stack deployed with GiftProvider=giftishow and NotificationProvider=solapi, end to end over the wire-level fakes:
the catalog from Giftishow's goods list, gifticons issued by coupon send (an answer lost on the way resolved by the
coupon-info call, never a second coupon or debit), and an SMS/LMS send as one Solapi message group whose delivery
reports, read by the report poller, settle each recipient as the contract's "Delivery receipts" says.

The tests run in file order: the notification send starts before the gift test, so its reports come due meanwhile.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.e2e.conftest import (
    AccountFactory,
    Client,
    Stack,
    account_credits,
    all_pages,
    create_promotion,
    gift_send_body,
    parse_time,
    seoul_date,
    unique,
    utc_now,
    wait_completed,
    wait_settled,
)
from tests.e2e.providers.conftest import Fakes, function_name
from tests.fakes import giftishow_server

# The Giftishow fake's goods (tests/fakes/giftishow_server.py default_goods): credits are the face value, salePrice.
GOODS = [
    (row["goodsCode"], row["goodsName"], row["brandName"], row["salePrice"], row["goodsStateCd"])
    for row in giftishow_server.default_goods()
]
AMERICANO, AMERICANO_PRICE = "G00000000101", 4_500

REPORT_TIMEOUT = 120.0  # the poller looks at a group 30 s after its send; the report queue delays 10 s


def _by_name(recipients: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    named = {r["name"]: r for r in recipients}
    assert len(named) == len(recipients), recipients
    return named


def _delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {key: after.get(key, 0) - before.get(key, 0) for key in after.keys() | before.keys()}


# --- catalog -------------------------------------------------------------------------------------------------------


def test_catalog_sync_reads_the_giftishow_goods_list(admin: Client, new_account: AccountFactory, fakes: Fakes) -> None:
    before = fakes.giftishow.calls()
    reply = admin.post("/admin/catalog/sync")
    assert reply.status == 200, reply
    assert set(reply.body) == {"updated", "discontinued"}, reply
    assert _delta(fakes.giftishow.calls(), before).get("0101") == 1  # one page of goods

    listed = all_pages(new_account("Catalog Shop", approved=False), "/gifts")
    assert [(g["gift_id"], g["name"], g["brand"], g["price"], g["status"]) for g in listed] == [
        (code, name, brand, price, "ON_SALE" if state == "SALE" else "DISCONTINUED")
        for code, name, brand, price, state in GOODS
    ]


# --- SMS/LMS through Solapi: the send (its reports are checked last) -------------------------------------------------

LONG_NAME = "가" * 40  # makes the message too long for an SMS: it goes as an LMS


@dataclass(frozen=True)
class SolapiSend:
    client: Client
    send_id: str
    settled: dict[str, Any]
    requests: dict[str, int]  # Solapi requests the send made, per endpoint
    started: datetime


@pytest.fixture(scope="session")
def solapi_send(new_account: AccountFactory, fakes: Fakes) -> SolapiSend:
    client = new_account("Solapi Shop", credits=10_000)
    assert client.post("/charges", {"channel": "sms", "quantity": 10}).status == 201
    assert client.post("/charges", {"channel": "lms", "quantity": 2}).status == 201
    before = fakes.solapi.calls()
    started = utc_now()
    reply = client.post(
        "/notification-sends",
        {
            "promotion_id": create_promotion(client, "Solapi"),
            "channel": "auto",
            "content": f"{{name}}, you won {unique('m')[-6:]}",
            "recipients": [
                {"phone": "010-4200-0001", "name": "Kim"},
                {"phone": "010-4200-0002", "name": LONG_NAME},
                {"phone": "010-4200-7777", "name": "Unknown"},  # the fake reports 3032, not a subscriber
                {"phone": "010-4200-6666", "name": "Off"},  # the fake reports 3043, handset off
                {"phone": "not a phone", "name": "Bad"},
            ],
        },
    )
    assert reply.status == 202, reply
    settled = wait_settled(client, reply.body["send_id"], sends="notification-sends")
    return SolapiSend(client, reply.body["send_id"], settled, _delta(fakes.solapi.calls(), before), started)


def test_an_sms_and_lms_send_goes_as_one_solapi_group(solapi_send: SolapiSend) -> None:
    client, send = solapi_send.client, solapi_send.settled
    assert send["counts"] == {"total": 5, "pending": 0, "sent": 4, "failed": 1, "resendable": 0}, send
    # One batch, one group: create, add (SMS and LMS together), send; nothing read back, nothing sent twice.
    assert {k: v for k, v in solapi_send.requests.items() if k != "list" and v} == {"create": 1, "add": 1, "send": 1}
    recipients = _by_name(all_pages(client, f"/notification-sends/{solapi_send.send_id}/recipients"))
    assert {n: (r["channel"], r["status"]) for n, r in recipients.items() if n != "Bad"} == {
        "Kim": ("sms", "SENT"),
        LONG_NAME: ("lms", "SENT"),
        "Unknown": ("sms", "SENT"),  # accepted: only the carrier's report will tell
        "Off": ("sms", "SENT"),
    }
    assert all(r["delivered_at"] is None for r in recipients.values()), recipients  # no report before 30 s
    assert (recipients["Bad"]["status"], recipients["Bad"]["failure_reason"]) == ("FAILED", "INVALID_RECIPIENT")
    assert client.get("/account").body["notification_balance"] == {"sms": 7, "lms": 1, "email": 0}


# --- gifticons through Giftishow -------------------------------------------------------------------------------------


def test_a_gift_send_issues_one_coupon_per_recipient_and_a_lost_answer_is_resolved_not_resent(
    new_account: AccountFactory, fakes: Fakes
) -> None:
    client = new_account("Giftishow Shop", credits=100_000)
    phones = ["010-4300-0001", "010-4300-0002", "010-4300-0003"]
    before = fakes.giftishow.get("calls")
    fakes.giftishow.post("drop-next", {"status": 500, "api_code": "0204"})  # one coupon issued, its answer lost
    reply = client.post("/gift-sends", gift_send_body(create_promotion(client, "Giftishow"), phones, AMERICANO))
    assert reply.status == 202, reply
    send_id = reply.body["send_id"]
    final = wait_completed(client, send_id)
    after = fakes.giftishow.get("calls")

    assert final["counts"] == {"total": 3, "pending": 0, "sent": 3, "failed": 0, "resendable": 0}, final
    calls = _delta(after["calls"], before["calls"])
    assert (calls.get("0204"), calls.get("0201"), calls.get("0202", 0)) == (3, 1, 0), calls
    assert after["issued"] - before["issued"] == 3

    recipients = all_pages(client, f"/gift-sends/{send_id}/recipients")
    assert [(r["status"], r["charged_credits"]) for r in recipients] == [("SENT", AMERICANO_PRICE)] * 3, recipients
    coupons = {r["coupon"]["coupon_id"] for r in recipients}
    assert len(coupons) == 3 and all(c.startswith("wn_") and len(c) == 25 for c in coupons), coupons
    valid_until = seoul_date(utc_now()) + timedelta(days=29)  # 30 days including the issue day
    assert {r["coupon"]["expires_on"] for r in recipients} == {valid_until.isoformat()}

    assert account_credits(client) == 100_000 - 3 * AMERICANO_PRICE
    entries = [e for e in all_pages(client, "/account/ledger") if e["send_id"] == send_id]
    assert {e["type"] for e in entries} == {"GIFT_DEBIT"}, entries  # no refund: nothing was charged twice
    assert (sum(e["quantity"] for e in entries), sum(e["credits_delta"] for e in entries)) == (
        3,
        -3 * AMERICANO_PRICE,
    ), entries


# --- SMS/LMS through Solapi: the delivery reports ------------------------------------------------------------------


def _poll_reports(stack: Stack, aws: Any, poller: str) -> int:
    """One run of the report poller, as its schedule runs it (invoked here so the test need not wait for the minute)."""
    lam = aws.client("lambda", endpoint_url=stack.env["AWS_ENDPOINT_URL"])
    answer = lam.invoke(FunctionName=poller, Payload=b"{}")
    payload = json.loads(answer["Payload"].read() or b"null")
    assert "FunctionError" not in answer, payload
    return int(payload["published"])


def test_solapi_reports_set_delivered_at_or_fail_the_recipient_with_its_count_back(
    stack: Stack, aws: Any, solapi_send: SolapiSend, fakes: Fakes
) -> None:
    client, send_id = solapi_send.client, solapi_send.send_id
    poller = function_name(stack, aws, "ReportPollerFunction")
    deadline = time.monotonic() + REPORT_TIMEOUT
    published = 0
    while True:
        published += _poll_reports(stack, aws, poller)
        recipients = _by_name(all_pages(client, f"/notification-sends/{send_id}/recipients"))
        settled = [recipients[n] for n in ("Kim", LONG_NAME, "Unknown", "Off")]
        if all(r["delivered_at"] or r["status"] == "FAILED" for r in settled):
            break
        assert time.monotonic() < deadline, f"reports not applied within {REPORT_TIMEOUT:.0f} s: {recipients}"
        time.sleep(2)

    for name in ("Kim", LONG_NAME):
        delivered = recipients[name]
        assert (delivered["status"], delivered["failure_reason"]) == ("SENT", None), delivered
        assert parse_time(delivered["delivered_at"]) >= solapi_send.started, delivered
    unknown, off = recipients["Unknown"], recipients["Off"]
    assert (unknown["status"], unknown["failure_reason"], unknown["resendable"]) == (
        "FAILED",
        "INVALID_RECIPIENT",
        False,
    ), unknown
    assert (off["status"], off["failure_reason"], off["resendable"]) == ("FAILED", "PROVIDER_ERROR", True)
    assert unknown["delivered_at"] is None and off["delivered_at"] is None

    send = client.get(f"/notification-sends/{send_id}").body
    assert send["counts"] == {"total": 5, "pending": 0, "sent": 2, "failed": 3, "resendable": 1}, send
    # Both failures give their SMS count back, once each, however often the poller ran.
    assert client.get("/account").body["notification_balance"] == {"sms": 9, "lms": 1, "email": 0}
    refunds = [e for e in all_pages(client, "/account/ledger") if e["type"] == "NOTIFICATION_REFUND"]
    assert sum(e["notification_delta"]["count"] for e in refunds) == 2, refunds
    assert {e["notification_delta"]["channel"] for e in refunds} == {"sms"}, refunds
    assert fakes.solapi.calls().get("list", 0) >= 1  # the reports came from the group's message list
    assert published <= 4  # the poller publishes each final message once (its schedule may have taken some)
