"""Account view and ledger, the gift catalog and wishlist, promotions, on the deployed stack."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import (
    CAKE,
    CAKE_PRICE,
    COFFEE,
    COFFEE_PRICE,
    RETIRED,
    RETIRED_PRICE,
    AccountFactory,
    Client,
    SandboxSend,
    all_pages,
    create_promotion,
    parse_time,
    unique,
)

LEDGER_FIELDS = {
    "entry_id",
    "created_at",
    "type",
    "credits_delta",
    "notification_delta",
    "quantity",
    "send_id",
    "charge_id",
    "reference",
}
GIFT_FIELDS = {"gift_id", "name", "brand", "price", "status", "validity_days"}
PROMOTION_FIELDS = {"promotion_id", "name", "created_at", "auto_notification"}


# --- account and ledger ----------------------------------------------------------------------------


def test_account_view(new_account: AccountFactory) -> None:
    account = new_account("View Shop", credits=12_345)
    reply = account.get("/account")
    assert reply.status == 200, reply
    assert reply.body == {
        "account_id": account.account_id,
        "name": "View Shop",
        "gift_sending_approved": True,
        "credits": 12_345,
        "notification_balance": {"sms": 0, "lms": 0, "email": 0},
    }


def test_ledger_pages_and_sums_to_the_balance(sandbox_send: SandboxSend) -> None:
    """The sandbox send's account: a top-up, the gift debit(s) and the refunds of the failed recipients."""
    client = sandbox_send.client
    credits = client.get("/account").body["credits"]
    entries = all_pages(client, "/account/ledger", limit=1)
    assert entries == all_pages(client, "/account/ledger", limit=200), "paging changed the listing"
    assert len({e["entry_id"] for e in entries}) == len(entries), "an entry appears twice across pages"
    for entry in entries:
        assert set(entry) == LEDGER_FIELDS, entry
        parse_time(entry["created_at"])
        assert entry["notification_delta"] is None and entry["charge_id"] is None, entry
        assert entry["quantity"] >= 1, entry
    times = [parse_time(e["created_at"]) for e in entries]
    assert times == sorted(times, reverse=True), "the ledger is not newest first"

    assert sum(e["credits_delta"] for e in entries) == credits
    by_type: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_type.setdefault(entry["type"], []).append(entry)
    assert set(by_type) == {"TOP_UP", "GIFT_DEBIT", "GIFT_REFUND"}, entries
    assert [(e["credits_delta"], e["quantity"]) for e in by_type["TOP_UP"]] == [(100_000, 1)]
    assert by_type["TOP_UP"][0]["reference"] and by_type["TOP_UP"][0]["send_id"] is None
    for entry in by_type["GIFT_DEBIT"]:
        assert entry["send_id"] == sandbox_send.send_id, entry
        assert entry["credits_delta"] == -COFFEE_PRICE * entry["quantity"], entry
    for entry in by_type["GIFT_REFUND"]:
        assert entry["send_id"] == sandbox_send.send_id, entry
        assert entry["credits_delta"] == COFFEE_PRICE * entry["quantity"], entry
    sent = sandbox_send.final["counts"]["sent"]
    debited = sum(e["quantity"] for e in by_type["GIFT_DEBIT"])
    refunded = sum(e["quantity"] for e in by_type["GIFT_REFUND"])
    assert debited - refunded == sent
    # The provider-side failures (0000, 9999) were charged when reserved and refunded: at least those two.
    assert refunded >= 2
    assert credits == 100_000 - COFFEE_PRICE * sent


def test_ledger_rejects_bad_paging(new_account: AccountFactory) -> None:
    account = new_account("Paging Shop", credits=1_000)
    for params in ({"limit": 0}, {"limit": 201}, {"limit": "ten"}, {"cursor": "not-a-cursor"}):
        reply = account.get("/account/ledger", params=params)
        assert reply.status == 422, (params, reply)
        assert reply.body["code"] == "VALIDATION_ERROR", (params, reply)


def test_another_accounts_ledger_cursor_is_rejected(new_account: AccountFactory, admin: Client) -> None:
    owner, other = new_account("Cursor Owner", credits=1_000), new_account("Cursor Other", credits=2_000)
    admin.post(f"/admin/accounts/{owner.account_id}/credits", {"amount": 1_000, "reference": unique("pg")})
    page = owner.get("/account/ledger", params={"limit": 1}).body
    assert page["next_cursor"], page
    reply = other.get("/account/ledger", params={"limit": 1, "cursor": page["next_cursor"]})
    # Never another account's entries: either rejected, or the other account's own listing.
    if reply.status == 200:
        assert all(e["credits_delta"] == 2_000 for e in reply.body["items"]), reply
    else:
        assert reply.status == 422, reply


# --- catalog and wishlist --------------------------------------------------------------------------


def test_catalog_lists_the_sandbox_gifts(new_account: AccountFactory) -> None:
    account = new_account("Catalog Shop", approved=False)
    reply = account.get("/gifts")
    assert reply.status == 200, reply
    gifts = reply.body["items"]
    for gift in gifts:
        assert set(gift) == GIFT_FIELDS, gift
        assert gift["validity_days"] == 30, gift
        assert gift["status"] in ("ON_SALE", "DISCONTINUED"), gift
        assert gift["name"] and gift["brand"], gift
    by_id = {g["gift_id"]: (g["price"], g["status"]) for g in gifts}
    assert len(by_id) == len(gifts), "a gift is listed twice"
    assert by_id[COFFEE] == (COFFEE_PRICE, "ON_SALE")
    assert by_id[CAKE] == (CAKE_PRICE, "ON_SALE")
    assert by_id[RETIRED] == (RETIRED_PRICE, "DISCONTINUED")
    assert account.get("/gifts").body["items"] == gifts, "catalog order is not stable"


def test_wishlist_add_list_remove(new_account: AccountFactory) -> None:
    account, other = new_account("Wish Shop", approved=False), new_account("Other Wish Shop", approved=False)
    assert account.get("/wishlist").body["items"] == []
    for gift_id in (CAKE, COFFEE, CAKE):  # adding twice keeps one entry
        reply = account.put(f"/wishlist/{gift_id}")
        assert reply.status == 200, reply
    wished = account.get("/wishlist").body["items"]
    assert sorted(g["gift_id"] for g in wished) == [CAKE, COFFEE]
    assert {g["gift_id"]: g["price"] for g in wished} == {CAKE: CAKE_PRICE, COFFEE: COFFEE_PRICE}
    assert all(set(g) == GIFT_FIELDS for g in wished), wished
    assert other.get("/wishlist").body["items"] == [], "wishlists leak between accounts"

    removed = account.delete(f"/wishlist/{CAKE}")
    assert removed.status == 204, removed
    assert removed.text == ""
    assert [g["gift_id"] for g in account.get("/wishlist").body["items"]] == [COFFEE]
    # A discontinued gift may be wished (it is in the catalog).
    assert account.put(f"/wishlist/{RETIRED}").status == 200
    assert sorted(g["gift_id"] for g in account.get("/wishlist").body["items"]) == [COFFEE, RETIRED]


def test_wishlist_unknown_gift_is_404(new_account: AccountFactory) -> None:
    account = new_account("Wish 404 Shop", approved=False)
    for method in ("PUT", "DELETE"):
        reply = account.call(method, "/wishlist/SBX-NO-SUCH-GIFT")
        assert reply.status == 404, (method, reply)
        assert reply.body["code"] == "NOT_FOUND", (method, reply)
    assert account.get("/wishlist").body["items"] == []


# --- promotions ------------------------------------------------------------------------------------


def test_promotions_create_get_list(new_account: AccountFactory) -> None:
    account = new_account("Promo Shop", approved=False)
    created = account.post("/promotions", {"name": "Spring Festival"})
    assert created.status == 201, created
    assert set(created.body) == PROMOTION_FIELDS
    assert created.body["name"] == "Spring Festival"
    assert created.body["auto_notification"] is None
    parse_time(created.body["created_at"])
    first = created.body["promotion_id"]
    second = create_promotion(account, "Summer Festival")
    assert second != first

    fetched = account.get(f"/promotions/{first}")
    assert fetched.status == 200, fetched
    assert fetched.body == created.body

    listed = account.get("/promotions")
    assert listed.status == 200, listed
    assert [p["promotion_id"] for p in listed.body["items"]] == [second, first], "not newest first"
    assert listed.body["next_cursor"] is None
    paged = all_pages(account, "/promotions", limit=1)
    assert [p["promotion_id"] for p in paged] == [second, first]


def test_another_accounts_promotion_is_404(new_account: AccountFactory) -> None:
    owner, other = new_account("Promo Owner", approved=False), new_account("Promo Other", approved=False)
    promotion_id = create_promotion(owner, "Private")
    reply = other.get(f"/promotions/{promotion_id}")
    assert reply.status == 404, reply
    assert reply.body["code"] == "NOT_FOUND"
    assert "Private" not in reply.text
    assert other.get("/promotions").body["items"] == []
    assert owner.get(f"/promotions/{promotion_id}").status == 200
    assert other.get("/promotions/prm_does_not_exist").status == 404


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": 5}])
def test_promotion_rejects_bad_names(new_account: AccountFactory, body: dict) -> None:
    account = new_account("Promo 422 Shop", approved=False)
    reply = account.post("/promotions", body)
    assert reply.status == 422, reply
    assert reply.body["code"] == "VALIDATION_ERROR", reply
    assert account.get("/promotions").body["items"] == []
