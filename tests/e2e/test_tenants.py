"""Tenant isolation matrix: every route holding an account's data, called with another account's key and
the owner's ids, answers 404 (never 403, never the data); lists never show another account's items; admin
routes refuse account keys with 403."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import AccountFactory, Client, create_promotion, gift_send_body, wait_settled

SHARED_KEY = "tenant-matrix-shared-key"  # the owner's Idempotency-Key, which another account uses too
OWNER_THRESHOLD = 12_345


@pytest.fixture(scope="module")
def owner_data(new_account: AccountFactory) -> dict[str, Any]:
    owner = new_account("Owner", credits=20_000)
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
    return {
        "owner": owner,
        "promotion": promotion_id,
        "gift": gift["send_id"],
        "note": note["send_id"],
        "charge": charge["charge_id"],
        "recipient": "r00001",
    }


ROUTES = [
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
