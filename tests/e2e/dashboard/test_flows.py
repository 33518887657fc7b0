"""The dashboard's main flows in the browser, signed in without the sign-in page (conftest: signed_in): an SMS that
grows into an LMS, a gift send to an uploaded CSV, a send that runs out of credits and is resent after a top-up,
a draft submitted and a scheduled send cancelled, a charge refunded, and the Korean pages."""

from __future__ import annotations

import re
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from tests.e2e.conftest import COFFEE, COFFEE_PRICE, SEOUL, Client, Stack, unique, wait_completed
from tests.e2e.dashboard.conftest import NewUser, OpenPage, Session, check_accessibility, screenshot

PHONES = ["010-2345-6781", "010-2345-6782", "01023456783"]
SETTLE_TIMEOUT = 60.0


def _user_client(stack: Stack, session: Session) -> Client:
    return Client(stack.api_url, session["token"])


def _buy(client: Client, channel: str, quantity: int) -> None:
    reply = client.post(
        "/charges", {"channel": channel, "quantity": quantity}, headers={"Idempotency-Key": str(uuid.uuid4())}
    )
    assert reply.status == 201, reply


def _new_promotion(page: Page) -> None:
    page.get_by_test_id("send-new-promotion").fill(unique("Browser promotion"))
    page.get_by_test_id("send-create-promotion").click()
    expect(page.get_by_test_id("send-promotion")).not_to_have_value("")


def _submitted_send_id(page: Page) -> str:
    result = page.get_by_test_id("send-result")
    expect(result).to_be_visible(timeout=15_000)
    found = re.search(r"Send (\S+) created", result.inner_text())
    assert found, result.inner_text()
    return found.group(1)


def _statuses(page: Page) -> list[str]:
    return [str(row.get_attribute("data-status")) for row in page.get_by_test_id("recipient-row").all()]


def _refresh_until(page: Page, done: Any, waiting_for: str) -> None:
    """Clicks the send's refresh button until `done(statuses)`; the page does not poll by itself."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while time.monotonic() < deadline:
        expect(page.get_by_test_id("recipients-table")).to_be_visible()
        if done(_statuses(page)):
            return
        time.sleep(1.0)
        page.get_by_test_id("detail-refresh").click()
        page.wait_for_load_state("networkidle")
    raise AssertionError(f"{waiting_for} not reached within {SETTLE_TIMEOUT:.0f}s: {_statuses(page)}")


def test_a_long_sms_is_switched_to_lms_and_sent(open_page: OpenPage, new_user: NewUser, stack: Stack) -> None:
    client, session = new_user("SMS Shop", credits=10_000)
    _buy(client, "lms", 3)
    page = open_page("#/send", session=session)
    page.get_by_test_id("send-kind-sms").check()
    _new_promotion(page)
    expect(page.get_by_test_id("send-title")).to_have_count(0)  # an SMS has no title

    short = "축하합니다! 봄맞이 이벤트에 당첨되셨습니다."
    page.get_by_test_id("send-content").fill(short)
    counter = page.get_by_test_id("send-content-count")
    expect(counter).to_have_text(f"{len(short.encode('euc-kr'))} / 90 bytes")
    expect(page.get_by_test_id("send-suggest-lms")).to_have_count(0)

    long = short + " 경품은 이번 주 안에 문자로 보내 드립니다. 감사합니다!"
    assert len(long.encode("euc-kr")) > 90
    page.get_by_test_id("send-content").fill(long)
    expect(counter).to_have_text(f"{len(long.encode('euc-kr'))} / 90 bytes")
    expect(counter).to_have_class(re.compile(r"\bover\b"))
    expect(page.get_by_test_id("send-suggest-lms")).to_be_visible()
    page.get_by_test_id("send-switch-lms").click()

    expect(page.get_by_test_id("send-kind-lms")).to_be_checked()
    expect(counter).to_have_text(f"{len(long.encode('euc-kr'))} / 2,000 bytes")
    expect(page.get_by_test_id("send-suggest-lms")).to_have_count(0)
    page.get_by_test_id("send-title").fill("당첨 안내")
    page.get_by_test_id("send-recipients-paste").fill(PHONES[0])
    page.get_by_test_id("send-submit").click()
    send_id = _submitted_send_id(page)

    sent = client.get(f"/notification-sends/{send_id}")
    assert sent.status == 200, sent
    assert (sent.body["channel"], sent.body["content"], sent.body["counts"]["total"]) == ("lms", long, 1)
    check_accessibility(page)
    screenshot(page, "send-sms-to-lms")


def test_a_gift_send_to_an_uploaded_csv_reports_the_invalid_row(
    open_page: OpenPage, new_user: NewUser, stack: Stack, tmp_path: Path
) -> None:
    client, session = new_user("Gift Shop", credits=100_000)
    winners = tmp_path / "winners.csv"
    rows = [f"Winner {n},{phone}" for n, phone in enumerate(PHONES, 1)] + ["Choi,02-123-4567"]
    winners.write_text("name,phone\n" + "\n".join(rows) + "\n", encoding="utf-8")

    page = open_page("#/send", session=session)
    _new_promotion(page)
    page.get_by_test_id("send-gift").select_option(COFFEE)
    page.get_by_test_id("send-title").fill("Spring win")
    page.get_by_test_id("send-content").fill("Congratulations! Here is your coffee.")
    page.get_by_test_id("send-recipients-file").set_input_files(winners)

    reported = page.get_by_test_id("send-report-row")
    expect(reported).to_have_count(1)
    expect(reported).to_contain_text("02-123-4567")
    expect(page.get_by_test_id("send-recipient-summary")).to_contain_text("3")
    page.get_by_test_id("send-estimate").click()
    expect(page.get_by_test_id("send-estimate-result")).to_be_visible()
    expect(page.get_by_test_id("send-shortfall")).to_have_count(0)
    page.get_by_test_id("send-submit").click()
    send_id = _submitted_send_id(page)
    check_accessibility(page)
    screenshot(page, "send-gift-csv")

    wait_completed(client, send_id)
    page.get_by_test_id("nav-history").click()
    page.get_by_test_id(f"history-open-{send_id}").click()
    expect(page.get_by_test_id("detail-status")).to_have_text("COMPLETED")
    expect(page.get_by_test_id("recipient-row")).to_have_count(3)
    assert _statuses(page) == ["SENT"] * 3
    expect(page.get_by_test_id("recipients-table")).to_contain_text("Winner 2")
    check_accessibility(page)
    screenshot(page, "history")


def test_a_send_short_of_credits_is_resent_after_a_top_up(
    open_page: OpenPage, new_user: NewUser, admin: Client
) -> None:
    client, session = new_user("Short Shop", credits=2 * COFFEE_PRICE)  # enough for two of three
    page = open_page("#/send", session=session)
    _new_promotion(page)
    page.get_by_test_id("send-gift").select_option(COFFEE)
    page.get_by_test_id("send-title").fill("Winner")
    page.get_by_test_id("send-content").fill("Congratulations!")
    page.get_by_test_id("send-recipients-paste").fill("\n".join(PHONES))
    page.get_by_test_id("send-estimate").click()
    expect(page.get_by_test_id("send-shortfall")).to_be_visible()
    page.get_by_test_id("send-submit").click()
    send_id = _submitted_send_id(page)

    settled = wait_completed(client, send_id)
    assert (settled["counts"]["sent"], settled["counts"]["failed"], settled["counts"]["resendable"]) == (2, 1, 1)
    topped = admin.post(
        f"/admin/accounts/{client.account_id}/credits", {"amount": COFFEE_PRICE, "reference": unique("top-up")}
    )
    assert topped.status == 200, topped

    page.goto(page.url.split("#", 1)[0] + f"#/history/gift/{send_id}")
    expect(page.get_by_test_id("recipient-row")).to_have_count(3)
    assert sorted(_statuses(page)) == ["FAILED", "SENT", "SENT"]
    expect(page.get_by_test_id("recipients-table")).to_contain_text("INSUFFICIENT_CREDITS")
    page.get_by_test_id("resend-failed").click()
    _refresh_until(page, lambda statuses: statuses == ["SENT"] * 3, "every recipient SENT")
    expect(page.get_by_test_id("resend-failed")).to_have_count(0)
    assert client.get("/account").body["credits"] == 0
    check_accessibility(page)


def test_a_draft_is_submitted_and_a_scheduled_send_cancelled(
    open_page: OpenPage, new_user: NewUser, stack: Stack
) -> None:
    client, session = new_user("Draft Shop", credits=10_000)
    _buy(client, "sms", 2)
    page = open_page("#/send", session=session)
    page.get_by_test_id("send-kind-sms").check()
    _new_promotion(page)
    page.get_by_test_id("send-content").fill("You won! Details follow.")
    page.get_by_test_id("send-recipients-paste").fill(PHONES[0])
    page.get_by_test_id("send-when-draft").check()
    page.get_by_test_id("send-submit").click()
    draft_id = _submitted_send_id(page)

    page.get_by_test_id("send-when-at").check()
    later = (datetime.now(SEOUL) + timedelta(days=2)).replace(second=0, microsecond=0)
    page.get_by_test_id("send-at").fill(later.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_test_id("send-submit").click()
    scheduled_id = _submitted_send_id(page)
    assert scheduled_id != draft_id
    scheduled = client.get(f"/notification-sends/{scheduled_id}").body
    assert scheduled["status"] == "SCHEDULED", scheduled
    assert datetime.fromisoformat(scheduled["send_at"]) == later

    base = page.url.split("#", 1)[0]
    page.goto(f"{base}#/history/notification/{draft_id}")
    expect(page.get_by_test_id("detail-status")).to_have_text("DRAFT")
    page.get_by_test_id("detail-submit-draft").click()
    expect(page.get_by_test_id("detail-status")).not_to_have_text("DRAFT")
    expect(page.get_by_test_id("detail-submit-draft")).to_have_count(0)

    page.goto(f"{base}#/history/notification/{scheduled_id}")
    expect(page.get_by_test_id("detail-status")).to_have_text("SCHEDULED")
    page.get_by_test_id("detail-cancel").click()
    expect(page.get_by_test_id("detail-status")).to_have_text("CANCELLED")
    expect(page.get_by_test_id("detail-cancel")).to_have_count(0)
    assert client.get(f"/notification-sends/{scheduled_id}").body["status"] == "CANCELLED"
    wait_completed(client, draft_id, sends="notification-sends")
    check_accessibility(page)


def test_a_charge_is_bought_and_refunded(open_page: OpenPage, new_user: NewUser) -> None:
    client, session = new_user("Charge Shop", credits=50_000)
    unit = client.get("/pricing").body["notification_unit_credits"]["email"]
    page = open_page("#/manage", session=session)
    page.get_by_test_id("charge-channel").select_option("email")
    page.get_by_test_id("charge-quantity").fill("40")
    expect(page.get_by_test_id("charge-cost")).to_contain_text(f"{40 * unit:,}")
    page.get_by_test_id("charge-buy").click()

    expect(page.get_by_test_id("charge-row")).to_have_count(1)
    (charge,) = client.get("/charges").body["items"]
    assert (charge["channel"], charge["quantity"], charge["credits_spent"]) == ("email", 40, 40 * unit)
    assert client.get("/account").body["notification_balance"]["email"] == 40
    row = page.get_by_test_id("charge-row")
    expect(row).to_contain_text("ACTIVE")

    page.get_by_test_id(f"charge-refund-{charge['charge_id']}").click()
    expect(row).to_contain_text("REFUNDED")
    expect(page.get_by_test_id(f"charge-refund-{charge['charge_id']}")).to_have_count(0)
    account = client.get("/account").body
    assert (account["credits"], account["notification_balance"]["email"]) == (50_000, 0)
    check_accessibility(page)
    screenshot(page, "manage")


def test_the_gift_shop_and_account_pages_in_korean(open_page: OpenPage, demo_session: Session) -> None:
    page = open_page("#/gifts", locale="ko-KR", session=demo_session)
    expect(page.get_by_test_id("nav-gifts")).to_have_text("기프트샵")
    expect(page.locator("html")).to_have_attribute("lang", "ko")
    expect(page.get_by_test_id(f"gift-{COFFEE}")).to_be_visible()
    check_accessibility(page)
    screenshot(page, "gifts-ko")

    page.get_by_test_id("nav-account").click()
    expect(page.get_by_test_id("ledger")).to_be_visible()
    expect(page.get_by_test_id("alerts-form")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("[가-힣]"))
    check_accessibility(page)
    screenshot(page, "account-ko")


MAIN_PAGES = ["#/", "#/send", "#/history", "#/gifts", "#/manage", "#/account", "#/webhooks"]
NAVIGATION = {"en-US": ("en", "History", "Manage"), "ko-KR": ("ko", "발송 내역", "당첨 알림 관리")}


def test_every_main_page_in_korean_and_english(open_page: OpenPage, demo_session: Session) -> None:
    """The same pages in both languages: the browser's language picks one, the page's lang and navigation follow,
    and each page passes axe in each."""
    for locale, (lang, history, manage) in NAVIGATION.items():
        page = open_page("#/", locale=locale, session=demo_session)
        expect(page.locator("html")).to_have_attribute("lang", lang)
        expect(page.get_by_test_id("nav-history")).to_have_text(history)
        expect(page.get_by_test_id("nav-manage")).to_have_text(manage)
        for path in MAIN_PAGES:
            page.goto(page.url.split("#")[0] + path)
            expect(page.get_by_role("heading", level=1).first).to_be_visible(timeout=45_000)
            check_accessibility(page)
