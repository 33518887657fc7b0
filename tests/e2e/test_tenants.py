"""Tenant isolation matrix: every route holding an account's data, called with another account's key and
the owner's ids, answers 404 (never 403, never the data); lists never show another account's items; admin
routes refuse account keys with 403. Webhooks too: another account's webhook routes are 404, and one account's
events never reach another account's webhook."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.e2e.conftest import AccountFactory, Client, create_promotion, gift_send_body, wait_settled
from tests.fakes.webhook_receiver import WebhookReceiver

SHARED_KEY = "tenant-matrix-shared-key"  # the owner's Idempotency-Key, which another account uses too
OWNER_THRESHOLD = 12_345


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as fake:
        yield fake


@pytest.fixture(scope="module")
def owner_data(new_account: AccountFactory, receiver: WebhookReceiver) -> dict[str, Any]:
    owner = new_account("Owner", credits=20_000)
    webhook = owner.post("/webhooks", {"url": f"{receiver.url}/owner", "events": ALL_EVENTS}).body
    receiver.set_secret("/owner", webhook["secret"])
    promotion_id = create_promotion(owner)
    gift = owner.post("/gift-sends", gift_send_body(promotion_id, ["010-6100-0001", "010-6100-9999"])).body
    charge = owner.post("/charges", {"channel": "sms", "quantity": 1}, headers={"Idempotency-Key": SHARED_KEY}).body
    owner.put("/account/alerts", {"credits_below": OWNER_THRESHOLD, "counts_below": {"sms": OWNER_THRESHOLD}})
    note = owner.post(
        "/notification-sends",
        {"promotion_id": promotion_id, "channel": "sms", "content": "hi", "recipients": [{"phone": "010-6100-0002"}]},
    ).body
    owner.post(f"/promotions/{promotion_id}/winners", {"winners": [{"name": "Kim", "phone": "010-6100-0003"}]})
    owner.put("/wishlist/SBX-CAKE")
    wait_settled(owner, gift["send_id"])  # its 9999 recipient waits for an automatic retry
    # Any delivery id does: the webhook is looked up first (the owner's first delivery when there is one).
    deliveries = owner.get(f"/webhooks/{webhook['webhook_id']}/deliveries").body["items"]
    return {
        "webhook": webhook["webhook_id"],
        "delivery": deliveries[0]["delivery_id"] if deliveries else "dlv_00000000000000000000000000000000",
        "owner": owner,
        "promotion": promotion_id,
        "gift": gift["send_id"],
        "note": note["send_id"],
        "charge": charge["charge_id"],
        "recipient": "r00001",
    }


ALL_EVENTS = ["recipient.sent", "recipient.delivered", "recipient.failed", "send.completed", "balance.low"]

ROUTES = [
    ("GET", "/webhooks/{webhook}", None),
    ("DELETE", "/webhooks/{webhook}", None),
    ("GET", "/webhooks/{webhook}/deliveries", None),
    ("POST", "/webhooks/{webhook}/deliveries/{delivery}/retry", None),
    ("GET", "/promotions/{promotion}", None),
    ("PUT", "/promotions/{promotion}/auto-notification", {"enabled": True, "channel": "sms", "content": "x"}),
    ("POST", "/promotions/{promotion}/winners", {"winners": [{"name": "Eve", "phone": "010-6199-0001"}]}),
    ("GET", "/promotions/{promotion}/winners", None),
    ("GET", "/gift-sends/{gift}", None),
    ("GET", "/gift-sends/{gift}/recipients", None),
    ("POST", "/gift-sends/{gift}/submit", None),
    ("POST", "/gift-sends/{gift}/cancel", None),
    ("POST", "/gift-sends/{gift}/resend", None),
    ("POST", "/gift-sends/{gift}/recipients/{recipient}/resend", None),
    ("GET", "/notification-sends/{note}", None),
    ("GET", "/notification-sends/{note}/recipients", None),
    ("POST", "/notification-sends/{note}/submit", None),
    ("POST", "/notification-sends/{note}/cancel", None),
    ("POST", "/notification-sends/{note}/resend", None),
    ("POST", "/notification-sends/{note}/recipients/r00000/resend", None),
    ("POST", "/charges/{charge}/refund", None),
    ("POST", "/gift-sends", "gift-send-body"),
    ("POST", "/notification-sends", "notification-send-body"),
]


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
def test_another_accounts_ids_are_404(
    new_account: AccountFactory, owner_data: dict[str, Any], method: str, path: str, body: Any
) -> None:
    intruder = new_account("Intruder", credits=20_000)
    if body == "gift-send-body":
        body = gift_send_body(owner_data["promotion"], ["010-6199-0002"])
    elif body == "notification-send-body":
        body = {
            "promotion_id": owner_data["promotion"],
            "channel": "sms",
            "content": "hi",
            "recipients": [{"phone": "010-6199-0003"}],
        }
    reply = intruder.call(method, path.format(**owner_data), body=body)
    assert (reply.status, reply.body["code"]) == (404, "NOT_FOUND"), reply
    assert owner_data["promotion"] not in str(reply.body)


LISTS = [
    "/webhooks",
    "/promotions",
    "/gift-sends",
    "/notification-sends",
    "/charges",
    "/account/ledger",
    "/wishlist",
    "/gift-sends?promotion_id={promotion}",
    "/notification-sends?promotion_id={promotion}",
]


@pytest.mark.parametrize("path", LISTS)
def test_lists_never_show_another_accounts_items(
    new_account: AccountFactory, owner_data: dict[str, Any], path: str
) -> None:
    intruder = new_account("Intruder")
    reply = intruder.get(path.format(**owner_data))
    assert reply.status == 200, reply
    assert reply.body["items"] == []


def test_the_account_routes_show_only_the_callers_own_account(
    new_account: AccountFactory, owner_data: dict[str, Any]
) -> None:
    intruder = new_account("Intruder")
    account = intruder.get("/account")
    alerts = intruder.get("/account/alerts")
    assert (account.status, alerts.status) == (200, 200)
    assert account.body["account_id"] == intruder.account_id != owner_data["owner"].account_id
    assert account.body["credits"] == 0
    assert str(OWNER_THRESHOLD) not in alerts.text


def test_an_idempotency_key_of_another_account_is_a_new_request(
    new_account: AccountFactory, owner_data: dict[str, Any]
) -> None:
    """Keys are scoped to the account: another account's same key and body neither replays the owner's answer
    nor counts as a reuse."""
    intruder = new_account("Intruder", credits=1_000)
    reply = intruder.post("/charges", {"channel": "sms", "quantity": 1}, headers={"Idempotency-Key": SHARED_KEY})
    assert reply.status == 201, reply
    assert reply.body["charge_id"] != owner_data["charge"]
    assert [c["charge_id"] for c in intruder.get("/charges").body["items"]] == [reply.body["charge_id"]]


def test_another_accounts_events_never_reach_the_owners_webhook(
    new_account: AccountFactory, owner_data: dict[str, Any], receiver: WebhookReceiver
) -> None:
    """The intruder's send makes events for its own webhook only; the owner's receiver gets none of them."""
    intruder = new_account("Intruder", credits=20_000)
    webhook = intruder.post("/webhooks", {"url": f"{receiver.url}/intruder", "events": ALL_EVENTS}).body
    receiver.set_secret("/intruder", webhook["secret"])
    gift = intruder.post("/gift-sends", gift_send_body(create_promotion(intruder), ["010-6199-0004"])).body
    eventually(lambda: receiver.received("/intruder"), lambda got: any(gift["send_id"] in r.body for r in got))
    assert all(r.verified for r in receiver.received("/intruder"))
    assert not [r for r in receiver.received("/owner") if gift["send_id"] in r.body]
    owner_events = {d["event_id"] for d in all_deliveries(owner_data["owner"], owner_data["webhook"])}
    intruder_events = {d["event_id"] for d in all_deliveries(intruder, webhook["webhook_id"])}
    assert intruder_events and not owner_events & intruder_events


def all_deliveries(client: Client, webhook_id: str) -> list[dict[str, Any]]:
    return list(client.get(f"/webhooks/{webhook_id}/deliveries?limit=100").body["items"])


def eventually(fetch: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 90.0) -> Any:
    """Polls `fetch` until `done` holds for its result."""
    deadline = time.monotonic() + timeout
    while not done(got := fetch()):
        if time.monotonic() > deadline:
            pytest.fail(f"not reached within {timeout:.0f}s; last: {got!r}")
        time.sleep(1)
    return got


ADMIN_ROUTES = [
    ("POST", "/admin/accounts", {"name": "x"}),
    ("POST", "/admin/accounts/{account}/gift-approval", {"approved": True}),
    ("POST", "/admin/accounts/{account}/credits", {"amount": 1, "reference": "r"}),
    ("POST", "/admin/catalog/sync", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES, ids=[p for _, p, _ in ADMIN_ROUTES])
def test_admin_routes_refuse_account_keys(
    new_account: AccountFactory, owner_data: dict[str, Any], method: str, path: str, body: Any
) -> None:
    client: Client = owner_data["owner"]
    reply = new_account("Intruder").call(method, path.format(account=client.account_id), body=body)
    assert (reply.status, reply.body["code"]) == (403, "FORBIDDEN"), reply
