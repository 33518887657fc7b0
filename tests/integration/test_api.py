"""The REST API in-process against moto: contract shapes, codes and the key-scope rule."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.integration.api_client import ADMIN, ApiClient, new_account
from tests.integration.conftest import TABLE
from tests.lambda_events import LambdaContextStub, api_event, drain_queue

SEND = {"gift_id": "SBX-COFFEE", "title": "Winner", "content": "Congratulations"}


@pytest.fixture
def catalog(aws: dict[str, Any]) -> None:
    reply = ADMIN.post("/admin/catalog/sync")
    assert reply.status == 200
    assert reply.body == {"updated": 5, "discontinued": 1}


def _promotion(client: ApiClient) -> str:
    return str(client.post("/promotions", {"name": "Spring"}).body["promotion_id"])


def test_health_needs_no_key(aws: dict[str, Any]) -> None:
    assert ApiClient(role=None).get("/health").body == {"status": "ok"}


DASHBOARD_ORIGIN = {"Origin": "https://d1234.cloudfront.net"}


def test_a_cors_preflight_is_answered_without_a_key(aws: dict[str, Any]) -> None:
    headers = {**DASHBOARD_ORIGIN, "Access-Control-Request-Method": "POST"}
    reply = ApiClient(role=None).call("OPTIONS", "/gift-sends", headers=headers)
    assert reply.status == 204
    assert reply.headers["Access-Control-Allow-Origin"] == "*"
    allowed = {name.strip().lower() for name in reply.headers["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key"} <= allowed
    assert "Access-Control-Allow-Credentials" not in reply.headers


def test_answers_and_errors_carry_the_cors_origin(aws: dict[str, Any]) -> None:
    client = new_account()
    assert client.call("GET", "/account", headers=DASHBOARD_ORIGIN).headers["Access-Control-Allow-Origin"] == "*"
    missing = client.call("GET", "/promotions/nope", headers=DASHBOARD_ORIGIN)
    assert missing.status == 404
    assert missing.headers["Access-Control-Allow-Origin"] == "*"
    unauthorized = ApiClient(role=None).call("GET", "/account", headers=DASHBOARD_ORIGIN)
    assert unauthorized.status == 401
    assert unauthorized.headers["Access-Control-Allow-Origin"] == "*"


def test_keys_are_scoped(aws: dict[str, Any]) -> None:
    client = new_account()
    assert client.post("/admin/accounts", {"name": "x"}).status == 403
    assert client.post("/admin/accounts", {"name": "x"}).body["code"] == "FORBIDDEN"
    assert ADMIN.get("/account").status == 403
    assert ApiClient(role=None).get("/account").body["code"] == "UNAUTHORIZED"


def test_account_view_and_top_up_reference_credits_once(aws: dict[str, Any]) -> None:
    created = ADMIN.post("/admin/accounts", {"name": "Bakery"})
    assert created.status == 201
    assert created.body["api_key"].startswith("wn_live_")
    account_id = created.body["account_id"]
    for _ in range(2):
        reply = ADMIN.post(f"/admin/accounts/{account_id}/credits", {"amount": 7_000, "reference": "pg-123"})
        assert reply.body == {"account_id": account_id, "credits": 7_000}
    view = ApiClient(account_id=account_id).get("/account").body
    assert view == {
        "account_id": account_id,
        "name": "Bakery",
        "gift_sending_approved": False,
        "credits": 7_000,
        "notification_balance": {"sms": 0, "lms": 0, "email": 0},
    }
    ledger = ApiClient(account_id=account_id).get("/account/ledger").body
    assert [(e["type"], e["credits_delta"], e["reference"]) for e in ledger["items"]] == [("TOP_UP", 7000, "pg-123")]
    assert ledger["next_cursor"] is None


def test_admin_routes_answer_404_for_unknown_accounts(aws: dict[str, Any]) -> None:
    assert ADMIN.post("/admin/accounts/acc_nope/gift-approval", {"approved": True}).status == 404
    assert ADMIN.post("/admin/accounts/acc_nope/credits", {"amount": 1, "reference": "r"}).status == 404
    assert ADMIN.post("/admin/accounts/acc_x/credits", {"amount": 0, "reference": "r"}).status == 422


def test_catalog_and_wishlist(aws: dict[str, Any], catalog: None) -> None:
    client = new_account()
    gifts = client.get("/gifts").body["items"]
    assert [g["gift_id"] for g in gifts][:3] == ["SBX-COFFEE", "SBX-CAKE", "SBX-CHICKEN"]
    assert {g["gift_id"]: (g["price"], g["status"]) for g in gifts}["SBX-RETIRED"] == (3000, "DISCONTINUED")
    assert all(g["validity_days"] == 30 for g in gifts)
    assert client.put("/wishlist/SBX-CAKE").status == 200
    assert client.put("/wishlist/NOPE").status == 404
    assert [g["gift_id"] for g in client.get("/wishlist").body["items"]] == ["SBX-CAKE"]
    assert client.delete("/wishlist/SBX-CAKE").status == 204
    assert client.get("/wishlist").body["items"] == []


def test_promotions_are_private_to_their_account(aws: dict[str, Any]) -> None:
    owner, other = new_account("Owner"), new_account("Other")
    created = owner.post("/promotions", {"name": "Spring"})
    assert created.status == 201 and created.body["auto_notification"] is None
    promotion_id = created.body["promotion_id"]
    assert owner.get(f"/promotions/{promotion_id}").body["name"] == "Spring"
    assert other.get(f"/promotions/{promotion_id}").status == 404
    assert other.get("/promotions").body["items"] == []


def test_lists_page_newest_first_with_opaque_cursors(aws: dict[str, Any]) -> None:
    client = new_account()
    ids = [client.post("/promotions", {"name": f"p{i}"}).body["promotion_id"] for i in range(5)]
    first = client.get("/promotions", query={"limit": "2"}).body
    assert [p["promotion_id"] for p in first["items"]] == ids[::-1][:2]
    second = client.get("/promotions", query={"limit": "2", "cursor": first["next_cursor"]}).body
    assert [p["promotion_id"] for p in second["items"]] == ids[::-1][2:4]
    assert client.get("/promotions", query={"cursor": "!!not-a-cursor"}).status == 422
    assert client.get("/promotions", query={"limit": "0"}).status == 422


def test_gift_send_is_accepted_and_queued_in_batches(aws: dict[str, Any], catalog: None) -> None:
    client = new_account(credits=100_000)
    promotion = _promotion(client)
    recipients = [{"phone": f"010-1000-{i:04d}"} for i in range(1, 12)] + [{"phone": "not-a-phone"}]
    reply = client.post("/gift-sends", {**SEND, "promotion_id": promotion, "recipients": recipients})
    assert reply.status == 202
    assert reply.body["status"] == "QUEUED" and reply.body["total"] == 12 and reply.body["invalid"] == 1
    messages = drain_queue(aws["sqs"], aws["queue_url"])
    assert len(messages) == 3  # batches of 5 (RECIPIENTS_PER_BATCH in tests)

    send_id = reply.body["send_id"]
    view = client.get(f"/gift-sends/{send_id}").body
    assert view["counts"] == {"total": 12, "pending": 11, "sent": 0, "failed": 1, "resendable": 0}
    assert view["origin"] == "MANUAL" and view["status"] == "QUEUED"
    failed = client.get(f"/gift-sends/{send_id}/recipients", query={"status": "FAILED"}).body["items"]
    assert [(r["phone"], r["failure_reason"], r["resendable"], r["charged_credits"]) for r in failed] == [
        ("not-a-phone", "INVALID_RECIPIENT", False, 0)
    ]
    page = client.get(f"/gift-sends/{send_id}/recipients", query={"limit": "4"}).body
    assert [r["phone"] for r in page["items"]] == [f"+8210100000{i:02d}" for i in range(1, 5)]
    rest = client.get(f"/gift-sends/{send_id}/recipients", query={"cursor": page["next_cursor"]}).body
    assert len(rest["items"]) == 8 and rest["next_cursor"] is None
    listed = client.get("/gift-sends", query={"promotion_id": promotion}).body["items"]
    assert [s["send_id"] for s in listed] == [send_id]
    assert client.get("/gift-sends", query={"promotion_id": "prm_other"}).body["items"] == []


def test_dry_run_estimates_and_creates_nothing(aws: dict[str, Any], catalog: None) -> None:
    client = new_account(credits=10_000)
    body = {
        **SEND,
        "promotion_id": _promotion(client),
        "dry_run": True,
        "recipients": [
            {"phone": "01012345678"},
            {"phone": "+82 10-2222-3333"},
            {"phone": "12"},
        ],
    }
    reply = client.post("/gift-sends", body)
    assert reply.status == 200
    assert reply.body == {
        "total": 3,
        "valid": 2,
        "invalid": 1,
        "unit_price": 4500,
        "estimated_credits": 9000,
        "available_credits": 10_000,
        "shortfall": 0,
    }
    assert client.get("/gift-sends").body["items"] == []
    assert drain_queue(aws["sqs"], aws["queue_url"]) == []


def test_idempotency_key_replays_the_first_response(aws: dict[str, Any], catalog: None) -> None:
    client = new_account(credits=10_000)
    body = {**SEND, "promotion_id": _promotion(client), "recipients": [{"phone": "01012345678"}]}
    first = client.post("/gift-sends", body, headers={"Idempotency-Key": "order-1"})
    again = client.post("/gift-sends", body, headers={"Idempotency-Key": "order-1"})
    assert first.status == again.status == 202
    assert first.body == again.body
    assert len(client.get("/gift-sends").body["items"]) == 1
    changed = client.post("/gift-sends", {**body, "title": "Other"}, headers={"Idempotency-Key": "order-1"})
    assert (changed.status, changed.body["code"]) == (409, "IDEMPOTENCY_KEY_REUSED")
    other_account = new_account("Other", credits=10_000)
    body_b = {**body, "promotion_id": _promotion(other_account)}
    assert other_account.post("/gift-sends", body_b, headers={"Idempotency-Key": "order-1"}).status == 202
    too_long = client.post("/gift-sends", body, headers={"Idempotency-Key": "k" * 129})
    assert too_long.status == 422


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"gift_id": "SBX-RETIRED"}, 409, "GIFT_UNAVAILABLE"),
        ({"gift_id": "NOPE"}, 404, "NOT_FOUND"),
        ({"promotion_id": "prm_nope"}, 404, "NOT_FOUND"),
        ({"title": "eleven char"}, 422, "VALIDATION_ERROR"),
        ({"title": "Winner 🎉"}, 422, "VALIDATION_ERROR"),
        ({"content": "x" * 1501}, 422, "VALIDATION_ERROR"),
        ({"content": "nul\u0000byte"}, 422, "VALIDATION_ERROR"),
        ({"recipients": []}, 422, "VALIDATION_ERROR"),
        ({"recipients": [{"phone": "01012345678"}] * 10_001}, 422, "VALIDATION_ERROR"),
        ({"send_at": "2020-01-01T00:00:00+09:00"}, 422, "VALIDATION_ERROR"),
        ({"send_at": "2099-01-01T00:00:00+09:00"}, 422, "VALIDATION_ERROR"),
        ({"unknown": 1}, 422, "VALIDATION_ERROR"),
    ],
)
def test_gift_send_rejections(aws: dict[str, Any], catalog: None, change: dict, status: int, code: str) -> None:
    client = new_account(credits=10_000)
    body = {**SEND, "promotion_id": _promotion(client), "recipients": [{"phone": "01012345678"}], **change}
    reply = client.post("/gift-sends", body)
    assert (reply.status, reply.body["code"]) == (status, code)
    if status == 422:
        assert reply.body["details"]


def test_unapproved_account_may_not_send_gifts(aws: dict[str, Any], catalog: None) -> None:
    client = new_account(approved=False, credits=10_000)
    reply = client.post(
        "/gift-sends", {**SEND, "promotion_id": _promotion(client), "recipients": [{"phone": "01012345678"}]}
    )
    assert (reply.status, reply.body["code"]) == (403, "GIFT_SENDING_NOT_APPROVED")


def test_malformed_json_is_400(aws: dict[str, Any]) -> None:
    client = new_account()
    reply = client.call("POST", "/promotions", raw_body='{"name": ')
    assert (reply.status, reply.body["code"]) == (400, "BAD_REQUEST")


def test_another_accounts_send_is_404(aws: dict[str, Any], catalog: None) -> None:
    owner, other = new_account("Owner", credits=10_000), new_account("Other")
    send = owner.post(
        "/gift-sends", {**SEND, "promotion_id": _promotion(owner), "recipients": [{"phone": "01012345678"}]}
    ).body["send_id"]
    for path in (f"/gift-sends/{send}", f"/gift-sends/{send}/recipients"):
        assert other.get(path).status == 404
    assert other.get("/gift-sends").body["items"] == []


def test_openapi_document_is_served(aws: dict[str, Any]) -> None:
    reply = ApiClient(role=None).get("/swagger", query={"format": "json"})
    assert reply.status == 200
    document = reply.body if isinstance(reply.body, dict) else json.loads(reply.body)
    assert "/gift-sends" in document["paths"]


@pytest.mark.parametrize(
    "content_type", ["multipart/form-data", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded"]
)
def test_a_form_body_is_400_not_500(aws: dict[str, Any], content_type: str) -> None:
    """Regression (found by schemathesis): multipart/form-data without a boundary made Powertools raise, a 500."""
    client = new_account(credits=1_000)
    reply = client.call("POST", "/promotions", {"name": "x"}, headers={"Content-Type": content_type})
    assert (reply.status, reply.body["code"]) == (400, "BAD_REQUEST")
    assert client.get("/promotions").body["items"] == []


def test_openapi_document_declares_every_error_and_no_body_on_204(aws: dict[str, Any]) -> None:
    """Regression (found by schemathesis): 401s were undocumented, and the 204 of DELETE /wishlist/{gift_id}
    declared a JSON body that it never has."""
    reply = ApiClient(role=None).get("/swagger", query={"format": "json"})
    document = reply.body if isinstance(reply.body, dict) else json.loads(reply.body)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            if path == "/health":
                assert "401" not in responses
                continue
            for status in ("400", "401", "403", "404", "409", "422"):
                schema = responses[status]["content"]["application/json"]["schema"]
                assert set(schema["required"]) == {"code", "message"}, (method, path, status)
            assert "content" not in responses.get("204", {}), (method, path)
    assert "204" in document["paths"]["/wishlist/{gift_id}"]["delete"]["responses"]


def test_a_body_that_is_not_json_is_400_not_500(aws: dict[str, Any]) -> None:
    """Regression (found by schemathesis): Content-Type text/plain made Powertools raise, answered 500."""
    client = new_account(credits=1_000)
    reply = client.call("POST", "/charges", {"channel": "lms", "quantity": 1}, headers={"Content-Type": "text/plain"})
    assert (reply.status, reply.body["code"]) == (400, "BAD_REQUEST")
    assert client.get("/account").body["credits"] == 1_000


# --- v1.1 corrections ----------------------------------------------------------------------------


def test_a_top_up_reference_reused_for_another_amount_is_409_and_credits_nothing(aws: dict[str, Any]) -> None:
    account_id = new_account(approved=False).account_id
    path = f"/admin/accounts/{account_id}/credits"
    assert ADMIN.post(path, {"amount": 7_000, "reference": "pg-1"}).body["credits"] == 7_000
    reused = ADMIN.post(path, {"amount": 700, "reference": "pg-1"})
    assert (reused.status, reused.body["code"]) == (409, "IDEMPOTENCY_KEY_REUSED")
    again = ADMIN.post(path, {"amount": 7_000, "reference": "pg-1"})
    assert (again.status, again.body) == (200, {"account_id": account_id, "credits": 7_000})
    ledger = ApiClient(account_id=account_id).get("/account/ledger").body["items"]
    assert [(e["type"], e["credits_delta"], e["reference"]) for e in ledger] == [("TOP_UP", 7_000, "pg-1")]


def test_a_top_up_settled_before_markers_kept_the_amount_is_judged_by_its_ledger_entry(aws: dict[str, Any]) -> None:
    """Markers written before v1.1 hold only the ledger entry's id."""
    account_id = new_account(approved=False).account_id
    path = f"/admin/accounts/{account_id}/credits"
    assert ADMIN.post(path, {"amount": 5_000, "reference": "old"}).status == 200
    dynamodb = boto3.client("dynamodb")
    dynamodb.update_item(
        TableName=TABLE,
        Key={"pk": {"S": f"ACCOUNT#{account_id}"}, "sk": {"S": "TOPUP#old"}},
        UpdateExpression="REMOVE amount",
    )
    assert ADMIN.post(path, {"amount": 5_000, "reference": "old"}).body["credits"] == 5_000
    assert ADMIN.post(path, {"amount": 5, "reference": "old"}).body["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert ApiClient(account_id=account_id).get("/account").body["credits"] == 5_000


def test_json_is_utf8_with_korean_text_as_characters(aws: dict[str, Any]) -> None:
    from functions.api.handler import lambda_handler

    client = new_account()
    event = api_event("POST", "/promotions", body={"name": "봄맞이 경품 이벤트"}, account_id=client.account_id)
    response = lambda_handler(event, LambdaContextStub())
    assert response["statusCode"] == 201
    assert '"name":"봄맞이 경품 이벤트"' in response["body"]
    assert "\\u" not in response["body"]
    assert response["multiValueHeaders"]["Content-Type"] == ["application/json; charset=utf-8"]
    missing = lambda_handler(
        api_event("GET", "/promotions/prm_없음", account_id=client.account_id), LambdaContextStub()
    )
    assert (missing["statusCode"], missing["multiValueHeaders"]["Content-Type"]) == (
        404,
        ["application/json; charset=utf-8"],
    )


def test_every_operation_has_a_summary_and_a_description() -> None:
    from functions.api.handler import app

    operations = [
        (method, path, operation)
        for path, item in (app.get_openapi_schema().paths or {}).items()
        for method in ("get", "put", "post", "delete", "patch")
        if (operation := getattr(item, method, None)) is not None
    ]
    assert {("get", "/health"), ("post", "/gift-sends"), ("post", "/admin/accounts/{account_id}/credits")} <= {
        (method, path) for method, path, _ in operations
    }
    for method, path, operation in operations:
        assert operation.summary and operation.summary.strip(), (method, path)
        assert operation.description and len(operation.description) > len(operation.summary), (method, path)


@pytest.mark.parametrize(
    ("headers", "context", "server"),
    [
        ({"Host": "127.0.0.1:4566"}, {"apiId": "abc123"}, "http://127.0.0.1:4566/_aws/execute-api/abc123/v1"),
        (
            {"Host": "abc123.execute-api.localhost:4566"},
            {"apiId": "abc123"},
            "http://abc123.execute-api.localhost:4566/v1",
        ),
        (
            {"Host": "abc123.execute-api.ap-northeast-2.amazonaws.com", "X-Forwarded-Proto": "https"},
            {"apiId": "abc123", "domainName": "abc123.execute-api.ap-northeast-2.amazonaws.com"},
            "https://abc123.execute-api.ap-northeast-2.amazonaws.com/v1",
        ),
        ({}, {}, "/v1"),  # nothing names the host: Powertools' relative stage path
        ({"Host": "evil.example/<script>"}, {}, "/v1"),
    ],
    ids=["ministack-path-style", "ministack-host-style", "api-gateway", "no-host", "bad-host"],
)
def test_openapi_document_names_the_url_it_was_requested_at(
    aws: dict[str, Any], headers: dict[str, str], context: dict[str, str], server: str
) -> None:
    from functions.api.handler import lambda_handler

    event = api_event("GET", "/swagger", role=None, headers=headers, query={"format": "json"})
    event["requestContext"].update(context)
    response = lambda_handler(event, LambdaContextStub())
    assert response["statusCode"] == 200
    assert [s["url"] for s in json.loads(response["body"])["servers"]] == [server]
