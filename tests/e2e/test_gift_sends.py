"""Gift sends on the deployed stack: the sandbox table end to end, money, idempotency, validation, races."""

from __future__ import annotations

import threading
import uuid
from datetime import date, timedelta
from typing import Any

from tests.e2e.conftest import (
    ALWAYS_FAILS_E164,
    ALWAYS_FAILS_PHONE,
    COFFEE,
    COFFEE_PRICE,
    FAILS_TWICE_E164,
    FAILS_TWICE_PHONE,
    INVALID_PHONES,
    NORMAL_E164,
    NORMAL_PHONES,
    NOT_FOUND_E164,
    NOT_FOUND_PHONE,
    RETIRED,
    SANDBOX_PHONES,
    AccountFactory,
    Client,
    Reply,
    SandboxSend,
    account_credits,
    all_pages,
    create_promotion,
    gift_send_body,
    parse_time,
    seoul_date,
    utc_now,
    wait_completed,
)

SEND_FIELDS = {
    "send_id",
    "promotion_id",
    "gift_id",
    "title",
    "content",
    "status",
    "origin",
    "created_at",
    "send_at",
    "counts",
}
COUNT_FIELDS = {"total", "pending", "sent", "failed", "resendable"}
RECIPIENT_FIELDS = {
    "recipient_id",
    "phone",
    "name",
    "status",
    "failure_reason",
    "resendable",
    "attempts",
    "charged_credits",
    "sent_at",
    "updated_at",
    "coupon",
    "next_retry_at",
}


def by_name(recipients: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    named = {r["name"]: r for r in recipients}
    assert len(named) == len(recipients), recipients
    return named


def ledger_sum(client: Client) -> int:
    return sum(e["credits_delta"] for e in all_pages(client, "/account/ledger"))


def assert_error(reply: Reply, status: int, code: str) -> None:
    assert reply.status == status, reply
    assert reply.body["code"] == code, reply
    assert isinstance(reply.body["message"], str), reply


def sends_of(client: Client, promotion_id: str) -> list[dict[str, Any]]:
    return all_pages(client, "/gift-sends", promotion_id=promotion_id)


# --- the sandbox table, end to end, in one send -----------------------------------------------------


def test_sandbox_send_is_accepted_with_invalid_numbers_counted(sandbox_send: SandboxSend) -> None:
    accepted = sandbox_send.accepted
    assert set(accepted) == {"send_id", "status", "total", "invalid"}
    assert accepted["status"] == "QUEUED"
    assert accepted["total"] == len(SANDBOX_PHONES)
    assert accepted["invalid"] == len(INVALID_PHONES)


def test_sandbox_send_settles_with_the_sandbox_outcomes(sandbox_send: SandboxSend) -> None:
    final = sandbox_send.final
    assert set(final) == SEND_FIELDS
    assert set(final["counts"]) == COUNT_FIELDS
    assert final["send_id"] == sandbox_send.send_id
    assert final["promotion_id"] == sandbox_send.promotion_id
    assert (final["gift_id"], final["title"], final["content"]) == (COFFEE, "Winner", "Congratulations on winning!")
    # Nothing pending, but the provider error waits for its automatic retry: PROCESSING, not COMPLETED (v1.1).
    assert (final["status"], final["origin"], final["send_at"]) == ("PROCESSING", "MANUAL", None)
    parse_time(final["created_at"])
    # 3 ordinary numbers + the fails-twice number are SENT; 0000, 9999 and the two invalid strings FAILED;
    # only the provider error (9999) can be resent.
    assert final["counts"] == {"total": 8, "pending": 0, "sent": 4, "failed": 4, "resendable": 1}


def test_sandbox_send_recipients(sandbox_send: SandboxSend) -> None:
    client = sandbox_send.client
    recipients = all_pages(client, f"/gift-sends/{sandbox_send.send_id}/recipients")
    assert len(recipients) == len(SANDBOX_PHONES)
    assert len({r["recipient_id"] for r in recipients}) == len(recipients)
    for recipient in recipients:
        assert set(recipient) == RECIPIENT_FIELDS, recipient
        parse_time(recipient["updated_at"])
    named = by_name(recipients)
    names = {phone: f"Winner {n}" for n, phone in enumerate(SANDBOX_PHONES)}
    assert set(named) == set(names.values())

    sent = [named[names[p]] for p in [*NORMAL_PHONES, FAILS_TWICE_PHONE]]
    assert [r["phone"] for r in sent] == [*NORMAL_E164, FAILS_TWICE_E164]  # returned in E.164
    issued_on = {seoul_date(sandbox_send.started), seoul_date(sandbox_send.finished)}
    for recipient in sent:
        assert recipient["status"] == "SENT", recipient
        assert recipient["failure_reason"] is None and recipient["resendable"] is False, recipient
        assert recipient["charged_credits"] == COFFEE_PRICE, recipient
        assert recipient["attempts"] >= 1, recipient
        sent_at = parse_time(recipient["sent_at"])
        assert sandbox_send.started - timedelta(seconds=5) <= sent_at <= sandbox_send.finished + timedelta(seconds=5)
        coupon = recipient["coupon"]
        assert set(coupon) == {"coupon_id", "expires_on"}, recipient
        assert isinstance(coupon["coupon_id"], str) and coupon["coupon_id"], recipient
        # Valid 30 days including the (Seoul) issue day.
        expires_on = date.fromisoformat(coupon["expires_on"])
        assert expires_on - timedelta(days=29) in issued_on, (recipient, issued_on)
        assert expires_on - timedelta(days=29) == seoul_date(sent_at) or len(issued_on) == 2, recipient
    assert len({r["coupon"]["coupon_id"] for r in sent}) == len(sent), "coupon ids repeat"
    # 8888: the provider failed twice, the automatic retries got it through.
    assert named[names[FAILS_TWICE_PHONE]]["attempts"] >= 3

    not_found = named[names[NOT_FOUND_PHONE]]
    assert not_found["phone"] == NOT_FOUND_E164
    assert (not_found["status"], not_found["failure_reason"], not_found["resendable"]) == (
        "FAILED",
        "INVALID_RECIPIENT",
        False,
    )
    assert not_found["charged_credits"] == 0 and not_found["coupon"] is None and not_found["sent_at"] is None

    provider_error = named[names[ALWAYS_FAILS_PHONE]]
    assert provider_error["phone"] == ALWAYS_FAILS_E164
    assert (provider_error["status"], provider_error["failure_reason"], provider_error["resendable"]) == (
        "FAILED",
        "PROVIDER_ERROR",
        True,
    )
    assert provider_error["attempts"] >= 2, "PROVIDER_ERROR comes after automatic retries"
    assert provider_error["charged_credits"] == 0 and provider_error["coupon"] is None
    # The service retries it by itself (this shared send may be some rounds further on by now, or done with them).
    if provider_error["next_retry_at"] is not None:
        assert parse_time(provider_error["next_retry_at"]) > parse_time(provider_error["updated_at"]), provider_error
    assert all(r["next_retry_at"] is None for r in recipients if r is not provider_error), recipients

    for phone in INVALID_PHONES:
        invalid = named[names[phone]]
        assert (invalid["status"], invalid["failure_reason"], invalid["resendable"]) == (
            "FAILED",
            "INVALID_RECIPIENT",
            False,
        ), invalid
        assert invalid["charged_credits"] == 0 and invalid["coupon"] is None, invalid
        assert invalid["attempts"] == 0, "an invalid number must never reach the provider"


def test_sandbox_send_charges_exactly_the_sent_gifts(sandbox_send: SandboxSend) -> None:
    client = sandbox_send.client
    sent = sandbox_send.final["counts"]["sent"]
    credits = account_credits(client)
    assert credits == sandbox_send.credits_before - COFFEE_PRICE * sent
    assert ledger_sum(client) == credits
    recipients = all_pages(client, f"/gift-sends/{sandbox_send.send_id}/recipients")
    assert sum(r["charged_credits"] for r in recipients) == COFFEE_PRICE * sent


def test_recipients_filter_by_status_and_page(sandbox_send: SandboxSend) -> None:
    client = sandbox_send.client
    path = f"/gift-sends/{sandbox_send.send_id}/recipients"
    everyone = all_pages(client, path)
    for status, expected in (("SENT", 4), ("FAILED", 4), ("PENDING", 0)):
        filtered = all_pages(client, path, status=status)
        assert len(filtered) == expected, (status, filtered)
        assert all(r["status"] == status for r in filtered), filtered
        assert filtered == [r for r in everyone if r["status"] == status], "filter changed the order or content"
        assert all_pages(client, path, limit=1, status=status) == filtered
    for limit in (1, 3):
        assert all_pages(client, path, limit=limit) == everyone, f"paging by {limit} lost or repeated recipients"
    first = client.get(path, params={"limit": 3})
    assert len(first.body["items"]) == 3 and first.body["next_cursor"], first
    for params in ({"status": "DELIVERED"}, {"limit": 0}, {"limit": 201}, {"cursor": "@@@"}):
        reply = client.get(path, params=params)
        assert_error(reply, 422, "VALIDATION_ERROR")


def test_sends_and_recipients_of_another_account_are_404(
    sandbox_send: SandboxSend, new_account: AccountFactory
) -> None:
    other = new_account("Nosy Shop")
    for path in (f"/gift-sends/{sandbox_send.send_id}", f"/gift-sends/{sandbox_send.send_id}/recipients"):
        reply = other.get(path)
        assert_error(reply, 404, "NOT_FOUND")
        assert "Winner" not in reply.text
    assert other.get("/gift-sends").body["items"] == []
    assert other.get("/gift-sends", params={"promotion_id": sandbox_send.promotion_id}).body["items"] == []
    assert_error(other.get("/gift-sends/gsnd_does_not_exist"), 404, "NOT_FOUND")


# --- money ------------------------------------------------------------------------------------------


def test_credits_for_only_part_of_a_send(new_account: AccountFactory) -> None:
    remainder = 1_000
    client = new_account("Short Shop", credits=3 * COFFEE_PRICE + remainder)
    promotion_id = create_promotion(client)
    phones = [f"010-4000-{n:04d}" for n in range(1, 6)]
    reply = client.post("/gift-sends", gift_send_body(promotion_id, phones))
    assert reply.status == 202, reply
    assert (reply.body["total"], reply.body["invalid"]) == (5, 0)
    final = wait_completed(client, reply.body["send_id"])
    assert final["counts"] == {"total": 5, "pending": 0, "sent": 3, "failed": 2, "resendable": 2}

    recipients = all_pages(client, f"/gift-sends/{reply.body['send_id']}/recipients")
    sent = [r for r in recipients if r["status"] == "SENT"]
    failed = [r for r in recipients if r["status"] == "FAILED"]
    assert len(sent) == 3 and len(failed) == 2, recipients
    assert all(r["charged_credits"] == COFFEE_PRICE and r["coupon"] for r in sent), sent
    for recipient in failed:
        assert (recipient["failure_reason"], recipient["resendable"]) == ("INSUFFICIENT_CREDITS", True), recipient
        assert recipient["charged_credits"] == 0 and recipient["coupon"] is None, recipient
    assert account_credits(client) == remainder
    assert ledger_sum(client) == remainder


def test_concurrent_sends_never_overspend(new_account: AccountFactory) -> None:
    """Two sends that together want 8 coffees, started at once, with credits for exactly 5."""
    client = new_account("Race Shop", credits=5 * COFFEE_PRICE)
    promotion_id = create_promotion(client)
    bodies = [gift_send_body(promotion_id, [f"010-5{batch}00-{n:04d}" for n in range(1, 5)]) for batch in (1, 2)]
    barrier = threading.Barrier(len(bodies))
    replies: list[Reply | BaseException] = [RuntimeError("not run")] * len(bodies)

    def post(index: int) -> None:
        own = client.with_new_session()  # requests.Session is not shared between threads
        try:
            barrier.wait(timeout=30)
            replies[index] = own.post("/gift-sends", bodies[index])
        except BaseException as error:  # reported below, in the test's thread
            replies[index] = error

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    send_ids = []
    for reply in replies:
        assert isinstance(reply, Reply), reply
        assert reply.status == 202, reply
        send_ids.append(reply.body["send_id"])
    assert send_ids[0] != send_ids[1]

    finals = [wait_completed(client, send_id) for send_id in send_ids]
    assert sum(f["counts"]["sent"] for f in finals) == 5, finals
    assert sum(f["counts"]["failed"] for f in finals) == 3, finals
    recipients = [r for s in send_ids for r in all_pages(client, f"/gift-sends/{s}/recipients")]
    failed = [r for r in recipients if r["status"] == "FAILED"]
    assert all(r["failure_reason"] == "INSUFFICIENT_CREDITS" and r["resendable"] for r in failed), failed
    assert sum(r["charged_credits"] for r in recipients) == 5 * COFFEE_PRICE
    assert account_credits(client) == 0
    assert ledger_sum(client) == 0
    entries = all_pages(client, "/account/ledger")
    running = 0
    for entry in reversed(entries):  # oldest first: the balance never went below zero
        running += entry["credits_delta"]
        assert running >= 0, entries


# --- create: dry run, idempotency, refusals, validation -------------------------------------------------


def test_dry_run_estimates_and_creates_nothing(new_account: AccountFactory) -> None:
    client = new_account("Estimate Shop", credits=10_000)
    promotion_id = create_promotion(client)
    body = gift_send_body(promotion_id, ["010-6000-0001", "010-6000-0002", "010-6000-0003", "12345"], dry_run=True)
    reply = client.post("/gift-sends", body)
    assert reply.status == 200, reply
    assert reply.body == {
        "total": 4,
        "valid": 3,
        "invalid": 1,
        "unit_price": COFFEE_PRICE,
        "estimated_credits": 3 * COFFEE_PRICE,
        "available_credits": 10_000,
        "shortfall": 3 * COFFEE_PRICE - 10_000,
    }
    covered = client.post("/gift-sends", gift_send_body(promotion_id, ["010-6000-0001"], dry_run=True))
    assert covered.status == 200, covered
    assert (covered.body["estimated_credits"], covered.body["shortfall"]) == (COFFEE_PRICE, 0)
    assert sends_of(client, promotion_id) == []
    assert client.get("/gift-sends").body["items"] == []
    assert account_credits(client) == 10_000
    assert [e["type"] for e in all_pages(client, "/account/ledger")] == ["TOP_UP"]


def test_idempotency_key_replays_the_first_response(new_account: AccountFactory) -> None:
    client = new_account("Retry Shop", credits=3 * COFFEE_PRICE)
    promotion_id = create_promotion(client)
    key = {"Idempotency-Key": f"e2e-{uuid.uuid4()}"}
    body = gift_send_body(promotion_id, ["010-7000-0001", "010-7000-0002"])
    first = client.post("/gift-sends", body, headers=key)
    assert first.status == 202, first
    again = client.post("/gift-sends", body, headers=key)
    assert again.status == 202, again
    assert again.body == first.body
    reused = client.post("/gift-sends", {**body, "title": "Other"}, headers=key)
    assert_error(reused, 409, "IDEMPOTENCY_KEY_REUSED")

    final = wait_completed(client, first.body["send_id"])
    assert final["counts"]["sent"] == 2
    after = client.post("/gift-sends", body, headers=key)  # also after the send finished
    assert (after.status, after.body) == (202, first.body)
    assert [s["send_id"] for s in sends_of(client, promotion_id)] == [first.body["send_id"]]
    assert account_credits(client) == COFFEE_PRICE  # charged once
    assert ledger_sum(client) == COFFEE_PRICE
    too_long = client.post("/gift-sends", body, headers={"Idempotency-Key": "k" * 129})
    assert_error(too_long, 422, "VALIDATION_ERROR")
    assert [s["send_id"] for s in sends_of(client, promotion_id)] == [first.body["send_id"]]


def test_gift_sending_needs_approval(admin: Client, new_account: AccountFactory) -> None:
    client = new_account("Unapproved Shop", approved=False, credits=50_000)
    promotion_id = create_promotion(client)
    body = gift_send_body(promotion_id, ["010-8000-0001"])
    assert_error(client.post("/gift-sends", body), 403, "GIFT_SENDING_NOT_APPROVED")
    assert_error(client.post("/gift-sends", {**body, "dry_run": True}), 403, "GIFT_SENDING_NOT_APPROVED")
    assert admin.post(f"/admin/accounts/{client.account_id}/gift-approval", {"approved": True}).status == 200
    assert client.post("/gift-sends", {**body, "dry_run": True}).status == 200
    assert admin.post(f"/admin/accounts/{client.account_id}/gift-approval", {"approved": False}).status == 200
    assert_error(client.post("/gift-sends", body), 403, "GIFT_SENDING_NOT_APPROVED")
    assert sends_of(client, promotion_id) == []
    assert account_credits(client) == 50_000


def test_unknown_promotion_or_gift_and_discontinued_gift(new_account: AccountFactory) -> None:
    client, other = new_account("Lookup Shop", credits=50_000), new_account("Lookup Other")
    promotion_id = create_promotion(client)
    others_promotion = create_promotion(other)
    phones = ["010-8100-0001"]
    assert_error(client.post("/gift-sends", gift_send_body("prm_does_not_exist", phones)), 404, "NOT_FOUND")
    assert_error(client.post("/gift-sends", gift_send_body(others_promotion, phones)), 404, "NOT_FOUND")
    assert_error(client.post("/gift-sends", gift_send_body(promotion_id, phones, "SBX-NOPE")), 404, "NOT_FOUND")
    assert_error(client.post("/gift-sends", gift_send_body(promotion_id, phones, RETIRED)), 409, "GIFT_UNAVAILABLE")
    dry = gift_send_body(promotion_id, phones, RETIRED, dry_run=True)
    assert_error(client.post("/gift-sends", dry), 409, "GIFT_UNAVAILABLE")
    assert sends_of(client, promotion_id) == []
    assert other.get("/gift-sends").body["items"] == []
    assert account_credits(client) == 50_000


def test_text_rules_are_422(new_account: AccountFactory) -> None:
    client = new_account("Validation Shop", credits=50_000)
    promotion_id = create_promotion(client)
    valid = gift_send_body(promotion_id, ["010-8200-0001"])
    cases: dict[str, dict[str, Any]] = {
        "title over 10 chars": {**valid, "title": "A" * 11},
        "title over 10 chars (Korean)": {**valid, "title": "축하합니다당첨자님들께"},
        "emoji in title": {**valid, "title": "Win \U0001f381"},
        "emoji in content": {**valid, "content": "Congrats \U0001f389"},
        "empty title": {**valid, "title": ""},
        "empty content": {**valid, "content": ""},
        "content over 1500 chars": {**valid, "content": "a" * 1501},
        "no recipients": {**valid, "recipients": []},
        "recipient without phone": {**valid, "recipients": [{"name": "No Phone"}]},
        "title missing": {k: v for k, v in valid.items() if k != "title"},
        "send_at in the past": {**valid, "send_at": "2020-01-01T10:00:00+09:00"},
        "send_at beyond 90 days": {**valid, "send_at": (utc_now() + timedelta(days=91)).isoformat()},
        "send_at not a time": {**valid, "send_at": "tomorrow"},
    }
    for case, body in cases.items():
        reply = client.post("/gift-sends", body)
        assert reply.status == 422, (case, reply)
        assert reply.body["code"] == "VALIDATION_ERROR", (case, reply)
        assert isinstance(reply.body.get("details"), list), (case, reply)
    # The limits themselves are allowed: 10 characters of title (not bytes), 1500 of content.
    at_limits = {**valid, "title": "축하합니다당첨자님들", "content": "가" * 1500, "dry_run": True}
    reply = client.post("/gift-sends", at_limits)
    assert reply.status == 200, reply
    assert sends_of(client, promotion_id) == []
    assert account_credits(client) == 50_000


def test_malformed_json_is_400(new_account: AccountFactory) -> None:
    client = new_account("JSON Shop", credits=50_000)
    promotion_id = create_promotion(client)
    for raw in ('{"promotion_id": "x", ', "not json at all", '{"title": "a",}'):
        assert_error(client.post("/gift-sends", raw=raw), 400, "BAD_REQUEST")
    assert_error(client.post("/promotions", raw="{oops"), 400, "BAD_REQUEST")
    assert sends_of(client, promotion_id) == []


def test_list_sends_by_promotion(new_account: AccountFactory) -> None:
    client = new_account("List Shop", credits=50_000)
    spring, summer = create_promotion(client, "Spring"), create_promotion(client, "Summer")
    created: dict[str, list[str]] = {spring: [], summer: []}
    for promotion_id in (spring, summer, spring):
        # Drafts: listed like any send, but never processed or charged.
        reply = client.post("/gift-sends", gift_send_body(promotion_id, ["010-8300-0001"], draft=True))
        assert reply.status == 202, reply
        assert reply.body["status"] == "DRAFT", reply
        created[promotion_id].append(reply.body["send_id"])
    spring_sends = sends_of(client, spring)
    assert [s["send_id"] for s in spring_sends] == list(reversed(created[spring])), "not newest first"
    assert [s["send_id"] for s in sends_of(client, summer)] == created[summer]
    for summary in spring_sends:
        assert set(summary) == SEND_FIELDS, summary
        assert summary["promotion_id"] == spring and summary["status"] == "DRAFT", summary
        assert summary["counts"] == {"total": 1, "pending": 1, "sent": 0, "failed": 0, "resendable": 0}, summary
    everything = all_pages(client, "/gift-sends")
    assert {s["send_id"] for s in everything} == {*created[spring], *created[summer]}
    assert all_pages(client, "/gift-sends", limit=1) == everything
    assert sends_of(client, create_promotion(client, "Empty")) == []
    assert sends_of(client, "prm_does_not_exist") == []
    assert account_credits(client) == 50_000
