"""Winners and the automatic notification: stored, announced, and turned into one AUTO send per draw."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from functions.auto_notify import handler as auto_notify
from shared.adapters.queue import WorkQueue
from shared.adapters.store import DataStore
from shared.domain.promotions import winners
from tests.integration.api_client import ApiClient, new_account
from tests.integration.conftest import TABLE
from tests.lambda_events import LambdaContextStub, drain_queue


def _store() -> DataStore:
    return DataStore(boto3.client("dynamodb"), TABLE)


@pytest.fixture
def client(aws: dict[str, Any]) -> ApiClient:
    client = new_account(credits=10_000)
    assert client.post("/charges", {"channel": "sms", "quantity": 100}).status == 201
    return client


def _promotion(client: ApiClient, auto: dict[str, Any] | None = None) -> str:
    promotion_id = str(client.post("/promotions", {"name": "Draw"}).body["promotion_id"])
    if auto:
        reply = client.put(f"/promotions/{promotion_id}/auto-notification", auto)
        assert reply.status == 200, reply.body
        assert reply.body["auto_notification"]["channel"] == auto["channel"]
    return promotion_id


def _event(account_id: str, promotion_id: str, draw_id: str) -> dict[str, Any]:
    return {
        "version": "0",
        "id": "e-1",
        "detail-type": "WinnersRecorded",
        "source": "win-notifications",
        "account": "123456789012",
        "time": "2026-11-25T00:00:00Z",
        "region": "ap-northeast-2",
        "resources": [],
        "detail": {"account_id": account_id, "promotion_id": promotion_id, "draw_id": draw_id, "winners": 3},
    }


def test_winners_are_listed_in_recorded_order_with_paging(client: ApiClient) -> None:
    promotion_id = _promotion(client)
    first = [{"name": f"w{i}", "phone": f"010-1000-{i:04d}"} for i in range(1, 4)]
    second = [{"name": "late", "email": "late@example.com"}]
    assert client.post(f"/promotions/{promotion_id}/winners", {"winners": first}).body == {"accepted": 3}
    assert client.post(f"/promotions/{promotion_id}/winners", {"winners": second}).status == 202
    page = client.get(f"/promotions/{promotion_id}/winners", query={"limit": "2"}).body
    assert [w["name"] for w in page["items"]] == ["w1", "w2"]
    rest = client.get(f"/promotions/{promotion_id}/winners", query={"cursor": page["next_cursor"]}).body
    assert [w["name"] for w in rest["items"]] == ["w3", "late"]
    assert rest["next_cursor"] is None
    assert rest["items"][1]["email"] == "late@example.com"


def test_winner_routes_are_private_and_validated(client: ApiClient) -> None:
    promotion_id = _promotion(client)
    other = new_account("Other")
    assert other.post(f"/promotions/{promotion_id}/winners", {"winners": [{"name": "x"}]}).status == 404
    assert other.get(f"/promotions/{promotion_id}/winners").status == 404
    assert client.post(f"/promotions/{promotion_id}/winners", {"winners": []}).status == 422
    too_many = {"winners": [{"name": "x", "phone": "01012345678"}] * 10_001}
    assert client.post(f"/promotions/{promotion_id}/winners", too_many).status == 422


def test_auto_notification_message_follows_the_send_rules(client: ApiClient) -> None:
    promotion_id = _promotion(client)
    reply = client.put(
        f"/promotions/{promotion_id}/auto-notification", {"enabled": True, "channel": "sms", "content": "x" * 91}
    )
    assert (reply.status, reply.body["code"]) == (422, "VALIDATION_ERROR")
    assert (
        client.put(
            "/promotions/prm_nope/auto-notification", {"enabled": True, "channel": "sms", "content": "hi"}
        ).status
        == 404
    )


def test_recorded_winners_get_one_automatic_send(aws: dict[str, Any], client: ApiClient) -> None:
    promotion_id = _promotion(client, {"enabled": True, "channel": "sms", "content": "{name}, you won!"})
    people = [
        {"name": "Kim", "phone": "010-2000-0001"},
        {"name": "Lee", "phone": "010-2000-0002"},
        {"name": "Park", "email": "park@example.com"},
    ]
    client.post(f"/promotions/{promotion_id}/winners", {"winners": people})
    (draw_id,) = {w["winner_id"].split(".")[0] for w in client.get(f"/promotions/{promotion_id}/winners").body["items"]}

    auto_notify.dependencies.cache_clear()
    event = _event(client.account_id, promotion_id, draw_id)
    first = auto_notify.lambda_handler(event, LambdaContextStub())
    again = auto_notify.lambda_handler(event, LambdaContextStub())  # EventBridge delivers at least once
    assert first == again and first["send_id"]

    sends = client.get("/notification-sends", query={"promotion_id": promotion_id}).body["items"]
    assert [(s["send_id"], s["origin"], s["channel"]) for s in sends] == [(first["send_id"], "AUTO", "sms")]
    assert sends[0]["counts"]["total"] == 3
    assert sends[0]["counts"]["failed"] == 1  # the winner with no phone cannot get an sms
    assert len(drain_queue(aws["sqs"], aws["notification_queue_url"])) == 1


def test_no_automatic_send_when_disabled(aws: dict[str, Any], client: ApiClient) -> None:
    promotion_id = _promotion(client, {"enabled": False, "channel": "sms", "content": "hi"})
    client.post(f"/promotions/{promotion_id}/winners", {"winners": [{"name": "a", "phone": "01012345678"}]})
    queue = WorkQueue(aws["sqs"], aws["notification_queue_url"])
    assert winners.notify_winners(_store(), queue, client.account_id, promotion_id, "drw_x", 50) is None
    assert client.get("/notification-sends").body["items"] == []


def test_winners_phones_are_returned_in_e164_whatever_form_was_posted(aws: dict[str, Any], client: ApiClient) -> None:
    promotion_id = _promotion(client)
    posted = [
        {"name": "a", "phone": "010-1234-5678"},
        {"name": "b", "phone": "01012345678"},
        {"name": "c", "phone": "+82 10-1234-5678"},
        {"name": "d", "phone": "010-123"},
        {"name": "e", "email": "e@example.com"},
    ]
    assert client.post(f"/promotions/{promotion_id}/winners", {"winners": posted}).status == 202
    listed = client.get(f"/promotions/{promotion_id}/winners").body["items"]
    # A number that is no Korean mobile cannot be E.164: it is shown as given.
    assert [w["phone"] for w in listed] == ["+821012345678"] * 3 + ["010-123", None]


def test_winners_recorded_before_v11_are_shown_in_e164(aws: dict[str, Any], client: ApiClient) -> None:
    promotion_id = _promotion(client)
    assert (
        client.post(
            f"/promotions/{promotion_id}/winners", {"winners": [{"name": "a", "phone": "+821012345678"}]}
        ).status
        == 202
    )
    dynamodb = boto3.client("dynamodb")
    [item] = [i for i in dynamodb.scan(TableName=TABLE)["Items"] if "winners" in i]
    # As stored before phones were normalized on the way in.
    dynamodb.update_item(
        TableName=TABLE,
        Key={"pk": item["pk"], "sk": item["sk"]},
        UpdateExpression="SET winners[0].phone = :given",
        ExpressionAttributeValues={":given": {"S": "010-1234-5678"}},
    )
    assert client.get(f"/promotions/{promotion_id}/winners").body["items"][0]["phone"] == "+821012345678"
