"""Health, API keys and their scopes, the admin API and the Swagger UI, on the deployed stack."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import AccountFactory, Client, Stack, unique


def test_health_needs_no_key(anonymous: Client) -> None:
    reply = anonymous.get("/health")
    assert reply.status == 200, reply
    assert reply.body == {"status": "ok"}


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/account"), ("GET", "/gifts"), ("POST", "/gift-sends"), ("POST", "/admin/accounts")],
)
def test_missing_key_is_401(anonymous: Client, method: str, path: str) -> None:
    reply = anonymous.call(method, path, {} if method == "POST" else None)
    assert reply.status == 401, reply
    assert reply.body["code"] == "UNAUTHORIZED", reply
    assert isinstance(reply.body.get("message"), str), reply


def test_unknown_or_malformed_key_is_401(anonymous: Client, admin: Client) -> None:
    # Few calls on purpose: on MiniStack every rejected key restarts the authorizer (~7 s each).
    for method, path, authorization in [
        ("GET", "/account", "Bearer wn_live_" + "x" * 43),  # shaped like an account key, but unknown
        ("POST", "/admin/catalog/sync", f"Basic {admin.key}"),  # the admin key, but not as a Bearer token
    ]:
        reply = anonymous.call(method, path, headers={"Authorization": authorization})
        assert reply.status == 401, (path, reply)
        assert reply.body["code"] == "UNAUTHORIZED", (path, reply)


def test_admin_key_is_not_an_account_key_and_vice_versa(admin: Client, new_account: AccountFactory) -> None:
    account = new_account("Scope Shop", approved=False)
    for method, path, body in [
        ("POST", "/admin/accounts", {"name": "Sneaky"}),
        ("POST", f"/admin/accounts/{account.account_id}/credits", {"amount": 1_000, "reference": unique("x")}),
        ("POST", f"/admin/accounts/{account.account_id}/gift-approval", {"approved": True}),
        ("POST", "/admin/catalog/sync", None),
    ]:
        reply = account.call(method, path, body)
        assert reply.status == 403, (path, reply)
        assert reply.body["code"] == "FORBIDDEN", (path, reply)
    for method, path in [
        ("GET", "/account"),
        ("GET", "/account/ledger"),
        ("GET", "/gifts"),
        ("GET", "/promotions"),
        ("GET", "/gift-sends"),
    ]:
        reply = admin.call(method, path)
        assert reply.status == 403, (path, reply)
        assert reply.body["code"] == "FORBIDDEN", (path, reply)
    # The account key's attempts changed nothing.
    view = account.get("/account").body
    assert (view["credits"], view["gift_sending_approved"]) == (0, False)


def test_create_account_shows_a_working_key(admin: Client, stack: Stack) -> None:
    name = "Corner Bakery"
    created = admin.post("/admin/accounts", {"name": name})
    assert created.status == 201, created
    assert set(created.body) == {"account_id", "name", "api_key"}
    assert created.body["name"] == name
    assert isinstance(created.body["api_key"], str) and len(created.body["api_key"]) >= 20
    client = Client(stack.api_url, created.body["api_key"])
    view = client.get("/account")
    assert view.status == 200, view
    assert view.body == {
        "account_id": created.body["account_id"],
        "name": name,
        "gift_sending_approved": False,
        "credits": 0,
        "notification_balance": {"sms": 0, "lms": 0, "email": 0},
    }
    second = admin.post("/admin/accounts", {"name": name})
    assert second.status == 201, second
    assert second.body["account_id"] != created.body["account_id"]
    assert second.body["api_key"] != created.body["api_key"]


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": 5}])
def test_create_account_rejects_bad_input(admin: Client, body: dict) -> None:
    reply = admin.post("/admin/accounts", body)
    assert reply.status == 422, reply
    assert reply.body["code"] == "VALIDATION_ERROR", reply
    assert isinstance(reply.body["details"], list) and reply.body["details"], reply


def test_gift_approval_can_be_granted_and_withdrawn(admin: Client, new_account: AccountFactory) -> None:
    account = new_account("Approval Shop", approved=False)
    path = f"/admin/accounts/{account.account_id}/gift-approval"
    for approved in (True, False, True):
        reply = admin.post(path, {"approved": approved})
        assert reply.status == 200, reply
        assert reply.body == {"account_id": account.account_id, "gift_sending_approved": approved}
        assert account.get("/account").body["gift_sending_approved"] is approved
    unknown = admin.post("/admin/accounts/acc_does_not_exist/gift-approval", {"approved": True})
    assert unknown.status == 404, unknown
    assert unknown.body["code"] == "NOT_FOUND"
    assert admin.post(path, {"approved": "maybe"}).status == 422
    assert account.get("/account").body["gift_sending_approved"] is True


@pytest.mark.parametrize("approved", ["yes", "false", 1, 0, None], ids=["yes", "false-string", "one", "zero", "null"])
def test_gift_approval_needs_a_json_boolean(admin: Client, new_account: AccountFactory, approved: object) -> None:
    account = new_account("Strict Approval Shop", approved=False)
    reply = admin.post(f"/admin/accounts/{account.account_id}/gift-approval", {"approved": approved})
    assert reply.status == 422, reply
    assert reply.body["code"] == "VALIDATION_ERROR", reply
    assert account.get("/account").body["gift_sending_approved"] is False


def test_top_up_with_the_same_reference_credits_once(admin: Client, new_account: AccountFactory) -> None:
    account = new_account("Top-up Shop", approved=False)
    path = f"/admin/accounts/{account.account_id}/credits"
    reference = unique("pg")
    for _ in range(3):
        reply = admin.post(path, {"amount": 7_000, "reference": reference})
        assert reply.status == 200, reply
        assert reply.body == {"account_id": account.account_id, "credits": 7_000}
    second_reference = unique("pg")
    other = admin.post(path, {"amount": 2_500, "reference": second_reference})
    assert other.body == {"account_id": account.account_id, "credits": 9_500}
    assert account.get("/account").body["credits"] == 9_500
    ledger = account.get("/account/ledger").body
    assert sorted((e["type"], e["credits_delta"], e["reference"]) for e in ledger["items"]) == [
        ("TOP_UP", 2_500, second_reference),
        ("TOP_UP", 7_000, reference),
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"amount": 0, "reference": "r"},
        {"amount": -5, "reference": "r"},
        {"amount": 1.5, "reference": "r"},
        {"amount": 100},
        {"amount": 100, "reference": ""},
        # JSON types are part of the contract: a boolean or a string is not an int amount.
        {"amount": True, "reference": "r"},
        {"amount": "100", "reference": "r"},
    ],
    ids=["zero", "negative", "fraction", "no-reference", "empty-reference", "boolean", "string"],
)
def test_top_up_rejects_bad_amounts(admin: Client, new_account: AccountFactory, body: dict) -> None:
    account = new_account("Bad Top-up", approved=False)
    reply = admin.post(f"/admin/accounts/{account.account_id}/credits", body)
    assert reply.status == 422, reply
    assert reply.body["code"] == "VALIDATION_ERROR", reply
    assert account.get("/account").body["credits"] == 0


def test_top_up_of_an_unknown_account_is_404(admin: Client) -> None:
    reply = admin.post("/admin/accounts/acc_does_not_exist/credits", {"amount": 1_000, "reference": unique("pg")})
    assert reply.status == 404, reply
    assert reply.body["code"] == "NOT_FOUND"


def test_catalog_sync_reports_what_changed(admin: Client) -> None:
    first = admin.post("/admin/catalog/sync")
    assert first.status == 200, first
    assert set(first.body) == {"updated", "discontinued"}
    assert all(isinstance(v, int) and v >= 0 for v in first.body.values()), first
    # The stack was seeded from the same provider: syncing again finds nothing new.
    again = admin.post("/admin/catalog/sync")
    assert again.status == 200, again
    assert again.body == {"updated": 0, "discontinued": 0}


def test_swagger_ui_and_openapi_document(anonymous: Client) -> None:
    page = anonymous.get("/swagger", headers={"Accept": "text/html"})
    assert page.status == 200, page
    assert page.headers.get("Content-Type", "").startswith("text/html"), page.headers
    assert "swagger-ui" in page.text.lower()
    document = anonymous.get("/swagger", params={"format": "json"})
    assert document.status == 200, document
    assert document.body["openapi"].startswith("3."), document
    assert document.body["info"]["title"] == "Win Notifications API"
    paths = document.body["paths"]
    for path in (
        "/health",
        "/account",
        "/account/ledger",
        "/gifts",
        "/promotions",
        "/gift-sends",
        "/gift-sends/{send_id}",
        "/gift-sends/{send_id}/recipients",
        "/admin/accounts",
    ):
        assert path in paths, sorted(paths)
