"""Contract v1.1 corrections on the deployed stack: E.164 phones everywhere, a top-up reference bound to its
amount, UTF-8 JSON, and an OpenAPI document whose server is this deployment."""

from __future__ import annotations

import requests

from tests.e2e.conftest import (
    HTTP_TIMEOUT,
    AccountFactory,
    Client,
    Stack,
    all_pages,
    create_promotion,
    unique,
)

SAME_NUMBER = ["010-1234-5678", "01012345678", "+82 10-1234-5678"]
E164 = "+821012345678"


# --- every phone the API returns is E.164 ----------------------------------------------------------


def test_winners_phones_come_back_in_e164_whatever_form_was_posted(new_account: AccountFactory) -> None:
    client = new_account("Winners Shop", approved=False)
    promotion_id = create_promotion(client, "Phone forms")
    winners = [{"name": f"Winner {n}", "phone": phone} for n, phone in enumerate(SAME_NUMBER)]
    winners.append({"name": "Mail winner", "email": "mail.winner@example.com"})
    reply = client.post(f"/promotions/{promotion_id}/winners", {"winners": winners})
    assert (reply.status, reply.body) == (202, {"accepted": 4}), reply
    listed = all_pages(client, f"/promotions/{promotion_id}/winners")
    assert [(w["name"], w["phone"]) for w in listed] == [
        ("Winner 0", E164),
        ("Winner 1", E164),
        ("Winner 2", E164),
        ("Mail winner", None),
    ]


def test_an_email_recipients_phone_comes_back_in_e164(new_account: AccountFactory) -> None:
    client = new_account("Mail Shop", approved=False)
    body = {
        "promotion_id": create_promotion(client, "Mail"),
        "channel": "email",
        "title": "You won",
        "content": "Congratulations",
        "draft": True,
        "recipients": [{"email": f"winner{n}@example.com", "phone": phone} for n, phone in enumerate(SAME_NUMBER)],
    }
    reply = client.post("/notification-sends", body)
    assert reply.status == 202, reply
    recipients = all_pages(client, f"/notification-sends/{reply.body['send_id']}/recipients")
    assert [r["phone"] for r in recipients] == [E164] * 3, recipients


# --- a top-up reference is bound to its amount ------------------------------------------------------------


def test_a_top_up_reference_reused_for_another_amount_is_409_and_credits_nothing(
    admin: Client, new_account: AccountFactory
) -> None:
    account = new_account("Reference Shop", approved=False)
    path = f"/admin/accounts/{account.account_id}/credits"
    reference = unique("pg")
    first = admin.post(path, {"amount": 7_000, "reference": reference})
    assert (first.status, first.body) == (200, {"account_id": account.account_id, "credits": 7_000}), first
    reused = admin.post(path, {"amount": 70_000, "reference": reference})
    assert reused.status == 409, reused
    assert reused.body["code"] == "IDEMPOTENCY_KEY_REUSED", reused
    assert account.get("/account").body["credits"] == 7_000
    again = admin.post(path, {"amount": 7_000, "reference": reference})
    assert (again.status, again.body) == (200, {"account_id": account.account_id, "credits": 7_000}), again
    ledger = all_pages(account, "/account/ledger")
    assert [(e["type"], e["credits_delta"], e["reference"]) for e in ledger] == [("TOP_UP", 7_000, reference)]


# --- JSON is UTF-8 -----------------------------------------------------------------------------------


def test_korean_text_is_returned_as_utf8_characters(stack: Stack, new_account: AccountFactory) -> None:
    client = new_account("한글 상점", approved=False)
    name = "봄맞이 경품 이벤트"
    headers = {"Authorization": f"Bearer {client.key}", "Content-Type": "application/json"}
    created = requests.post(f"{stack.api_url}/promotions", json={"name": name}, headers=headers, timeout=HTTP_TIMEOUT)
    assert created.status_code == 201, created.text
    promotion_id = created.json()["promotion_id"]
    fetched = requests.get(f"{stack.api_url}/promotions/{promotion_id}", headers=headers, timeout=HTTP_TIMEOUT)
    account = requests.get(f"{stack.api_url}/account", headers=headers, timeout=HTTP_TIMEOUT)
    for reply, text in ((created, name), (fetched, name), (account, "한글 상점")):
        assert reply.status_code in (200, 201), reply.text
        assert text.encode("utf-8") in reply.content, reply.content
        assert b"\\u" not in reply.content, reply.content
        content_type = reply.headers["Content-Type"].replace(" ", "").lower()
        assert content_type == "application/json;charset=utf-8", content_type


# --- the OpenAPI document serves this deployment ------------------------------------------------------------


def _document(anonymous: Client) -> dict:
    reply = anonymous.get("/swagger", params={"format": "json"})
    assert reply.status == 200, reply
    assert isinstance(reply.body, dict), reply
    return reply.body


def test_openapi_server_is_the_deployed_base_url_and_try_it_out_works(
    stack: Stack, anonymous: Client, new_account: AccountFactory
) -> None:
    servers = _document(anonymous)["servers"]
    assert [s["url"] for s in servers] == [stack.api_url], servers
    # "Try it out" calls server URL + path: a public route and one behind the key.
    server = servers[0]["url"]
    assert requests.get(f"{server}/health", timeout=HTTP_TIMEOUT).json() == {"status": "ok"}
    client = new_account("Try It Shop", approved=False)
    account = requests.get(f"{server}/account", headers={"Authorization": f"Bearer {client.key}"}, timeout=HTTP_TIMEOUT)
    assert (account.status_code, account.json()["account_id"]) == (200, client.account_id)


def test_every_openapi_operation_has_a_summary_and_a_description(anonymous: Client) -> None:
    paths = _document(anonymous)["paths"]
    operations = [(method, path, op) for path, item in paths.items() for method, op in item.items()]
    assert ("post", "/admin/accounts/{account_id}/credits") in {(m, p) for m, p, _ in operations}
    missing = [
        (method, path)
        for method, path, op in operations
        if not (op.get("summary") or "").strip() or not (op.get("description") or "").strip()
    ]
    assert missing == [], missing
