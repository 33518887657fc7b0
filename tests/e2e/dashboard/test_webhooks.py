"""The Webhooks page in the browser: a webhook registered for a receiver on 127.0.0.1, its secret seen once, the
deliveries of a real send's events succeeding (each signature checked with `standardwebhooks`), one replayed, and
the webhook deleted; a URL the API refuses shown next to the URL field."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Page, expect
from standardwebhooks.webhooks import Webhook

from tests.e2e.conftest import create_promotion, wait_completed
from tests.e2e.dashboard.conftest import Dashboard, NewUser, OpenPage, check_accessibility, screenshot

SETTLE_TIMEOUT = 90.0  # the send's Lambdas, then the delivery queue's
SECRET = re.compile(r"^whsec_[A-Za-z0-9+/]+={0,2}$")


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]  # names lower-cased
    body: bytes


@dataclass
class Receiver:
    """A webhook endpoint on 127.0.0.1 that answers every POST 200 and keeps what it got."""

    url: str
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def requests(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def wait_for(self, done: Callable[[list[Received]], bool], waiting_for: str) -> list[Received]:
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while time.monotonic() < deadline:
            got = self.requests()
            if done(got):
                return got
            time.sleep(0.5)
        raise AssertionError(f"receiver: {waiting_for} not reached within {SETTLE_TIMEOUT:.0f}s: {self.requests()}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with box[0].lock:
                box[0].received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: object) -> None:
            pass  # the test reports what matters

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.append(Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hook"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box[0]
    finally:
        server.shutdown()
        server.server_close()


def _deliveries(page: Page) -> dict[str, tuple[str, str]]:
    """delivery_id -> (type, status) of the rows shown."""
    rows = page.get_by_test_id("delivery-row").all()
    return {
        str(row.get_attribute("data-delivery-id")): (
            row.locator("td").first.inner_text(),
            str(row.get_attribute("data-status")),
        )
        for row in rows
    }


def _refresh_deliveries_until(page: Page, done: Callable[[dict[str, tuple[str, str]]], bool], waiting_for: str) -> None:
    """Clicks the deliveries' refresh button until `done(rows)`; the page does not poll by itself."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while time.monotonic() < deadline:
        expect(page.get_by_test_id("deliveries")).to_be_visible()
        page.wait_for_load_state("networkidle")
        if done(_deliveries(page)):
            return
        time.sleep(1.0)
        page.get_by_test_id("deliveries-refresh").click()
    raise AssertionError(f"{waiting_for} not reached within {SETTLE_TIMEOUT:.0f}s: {_deliveries(page)}")


def test_a_webhook_is_registered_delivered_replayed_and_deleted(
    open_page: OpenPage, new_user: NewUser, receiver: Receiver
) -> None:
    client, session = new_user("Webhook Shop", credits=10_000)
    assert client.post("/charges", {"channel": "sms", "quantity": 2}).status == 201
    page = open_page("#/webhooks", session=session)
    expect(page.get_by_test_id("nav-webhooks")).to_have_attribute("aria-current", "page")

    # No event picked: the page says so and calls nothing.
    page.get_by_test_id("webhook-url").fill(receiver.url)
    page.get_by_test_id("webhook-submit").click()
    expect(page.get_by_test_id("webhook-events-error")).to_be_visible()
    assert client.get("/webhooks").body["items"] == []

    page.get_by_test_id("webhook-event-recipient.sent").check()
    page.get_by_test_id("webhook-event-send.completed").check()
    page.get_by_test_id("webhook-description").fill("CRM sync")
    page.get_by_test_id("webhook-submit").click()

    shown = page.get_by_test_id("webhook-secret")
    expect(shown).to_have_text(SECRET)
    secret = shown.inner_text().strip()
    expect(page.get_by_test_id("webhook-secret-note")).to_contain_text("Shown only now")
    expect(page.get_by_test_id("webhook-secret-copy")).to_be_visible()
    row = page.get_by_test_id("webhook-row")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(receiver.url)
    expect(row).to_contain_text("recipient.sent")
    expect(row).to_contain_text("send.completed")
    webhook_id = str(row.get_attribute("data-webhook-id"))
    (listed,) = client.get("/webhooks").body["items"]
    assert (listed["webhook_id"], listed["url"], listed["enabled"]) == (webhook_id, receiver.url, True), listed
    assert sorted(listed["events"]) == ["recipient.sent", "send.completed"], listed
    assert listed["description"] == "CRM sync", listed
    assert "secret" not in listed and secret not in str(listed)
    check_accessibility(page)
    screenshot(page, "webhooks")

    # Once dismissed, or after a reload, the secret is nowhere on the page.
    page.get_by_test_id("webhook-secret-done").click()
    expect(page.get_by_test_id("webhook-secret")).to_have_count(0)
    page.reload()
    expect(page.get_by_test_id("webhook-row")).to_have_count(1)
    expect(page.get_by_test_id("webhook-secret")).to_have_count(0)
    assert secret not in page.content()

    # A real event: an SMS to one winner is sent (recipient.sent), then the send completes (send.completed).
    reply = client.post(
        "/notification-sends",
        {
            "promotion_id": create_promotion(client, "Webhook promotion"),
            "channel": "sms",
            "content": "You won! Details follow.",
            "recipients": [{"phone": "010-2345-6781", "name": "Kim"}],
        },
    )
    assert reply.status == 202, reply
    wait_completed(client, str(reply.body["send_id"]), sends="notification-sends")

    page.get_by_test_id("webhook-deliveries").click()
    _refresh_deliveries_until(
        page,
        lambda rows: sorted(rows.values()) == [("recipient.sent", "SUCCEEDED"), ("send.completed", "SUCCEEDED")],
        "both deliveries SUCCEEDED",
    )
    check_accessibility(page)
    screenshot(page, "webhook-deliveries")

    # What the receiver got is signed with the secret the page showed, under the events' ids.
    logged = {d["delivery_id"]: d for d in client.get(f"/webhooks/{webhook_id}/deliveries").body["items"]}
    event_ids = {d["event_id"] for d in logged.values()}
    got = receiver.wait_for(lambda got: {r.headers.get("webhook-id") for r in got} >= event_ids, "both events")
    verifier = Webhook(secret)
    for request in got:
        verifier.verify(request.body, request.headers)  # raises on a bad signature
    assert {r.headers["webhook-id"] for r in got} == event_ids

    # Replay the recipient's delivery: posted again, same webhook-id, same bytes, and it succeeds again.
    (sent_id,) = [i for i, d in logged.items() if d["type"] == "recipient.sent"]
    event_id = logged[sent_id]["event_id"]
    first_body = next(r.body for r in got if r.headers["webhook-id"] == event_id)
    before = sum(1 for r in got if r.headers["webhook-id"] == event_id)
    sent_row = page.locator(f'[data-testid="delivery-row"][data-delivery-id="{sent_id}"]')
    sent_row.get_by_test_id("delivery-retry").click()
    expect(page.get_by_test_id("deliveries").get_by_role("status").filter(has_text="Sent again")).to_be_visible()
    again = receiver.wait_for(
        lambda got: sum(1 for r in got if r.headers["webhook-id"] == event_id) > before, "the replayed delivery"
    )
    for request in (r for r in again if r.headers["webhook-id"] == event_id):
        verifier.verify(request.body, request.headers)
        assert request.body == first_body
    _refresh_deliveries_until(
        page, lambda rows: rows.get(sent_id, ("", ""))[1] == "SUCCEEDED", "the replayed delivery SUCCEEDED"
    )

    # Delete, confirmed on the page; the API forgets the webhook.
    page.get_by_test_id("webhook-delete").click()
    expect(page.get_by_test_id("webhook-delete-question")).to_contain_text(receiver.url)
    page.get_by_test_id("webhook-delete-cancel").click()
    expect(page.get_by_test_id("webhook-row")).to_have_count(1)
    page.get_by_test_id("webhook-delete").click()
    page.get_by_test_id("webhook-delete-confirm").click()
    expect(page.get_by_test_id("webhook-row")).to_have_count(0)
    expect(page.get_by_test_id("deliveries")).to_have_count(0)
    assert client.get(f"/webhooks/{webhook_id}").status == 404
    assert client.get("/webhooks").body["items"] == []


def test_a_refused_url_is_explained_next_to_the_field(
    open_page: OpenPage,
    new_user: NewUser,
    dashboard: Dashboard,
    allow_console_error: Callable[[str, str], None],
) -> None:
    # Chromium logs every 4xx a fetch receives; the API's refusal is an HTTP 422. A private address literal is
    # refused before any connection is tried, so nothing but the API is contacted.
    allow_console_error(r"status of 422", dashboard.config["apiUrl"])
    client, session = new_user("Refused Hook Shop")
    page = open_page("#/webhooks", locale="ko-KR", session=session)
    page.get_by_test_id("webhook-url").fill("https://10.0.0.5/hook")
    page.get_by_test_id("webhook-event-recipient.failed").check()
    page.get_by_test_id("webhook-submit").click()

    error = page.get_by_test_id("webhook-url-error")
    expect(error).to_be_visible()
    expect(error).not_to_be_empty()
    expect(page.get_by_test_id("webhook-url")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_test_id("webhook-secret")).to_have_count(0)
    assert client.get("/webhooks").body["items"] == []
    expect(page.get_by_test_id("nav-webhooks")).to_have_text("웹훅")
    check_accessibility(page)
