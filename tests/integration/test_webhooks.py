"""Webhooks in-process: the routes against moto, events from real sends through the bus rule's queue, the events
consumer and the delivery consumer posting to a verifying receiver on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from functools import cache
from typing import Any

import boto3
import pytest

from functions.send_notification.handler import lambda_handler as consume_notifications
from functions.webhook_delivery.handler import lambda_handler as consume_deliveries
from functions.webhook_events.handler import lambda_handler as consume_events
from shared.adapters.store import DataStore
from shared.domain.clock import utc_now
from shared.domain.sends.dispatch import run_periodic_dispatch
from tests.fakes.webhook_receiver import WebhookReceiver
from tests.integration.api_client import ApiClient, new_account
from tests.integration.conftest import TABLE
from tests.lambda_events import LambdaContextStub, drain_queue, sqs_event

ALL_EVENTS = ["recipient.sent", "recipient.delivered", "recipient.failed", "send.completed", "balance.low"]


@pytest.fixture
def bus(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The template's WebhookEventRule on moto's bus, its queue, and retries without waiting."""
    monkeypatch.setenv("WEBHOOK_RETRY_DELAYS", "0,0,0")
    sqs = aws["sqs"]
    queue_url = sqs.create_queue(QueueName="webhook-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events = boto3.client("events")
    pattern = {"source": ["win-notifications"], "detail-type": ["AccountEvents", "BalanceLow"]}
    events.put_rule(Name="webhook-events", EventPattern=json.dumps(pattern), EventBusName="default")
    events.put_targets(Rule="webhook-events", EventBusName="default", Targets=[{"Id": "q", "Arn": arn}])
    return {**aws, "events_queue_url": queue_url}


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


def _register(client: ApiClient, receiver: WebhookReceiver, path: str, events: list[str] = ALL_EVENTS) -> dict:
    reply = client.post("/webhooks", {"url": receiver.url + path, "events": events})
    assert reply.status == 201, reply.body
    receiver.set_secret(path, reply.body["secret"])
    return dict(reply.body)


def _sms_send(client: ApiClient, phones: list[str]) -> str:
    assert client.post("/charges", {"channel": "sms", "quantity": len(phones)}).status == 201
    promotion = client.post("/promotions", {"name": "Launch"}).body["promotion_id"]
    recipients = [{"phone": p, "name": "김민지"} for p in phones]
    body = {"promotion_id": promotion, "channel": "sms", "content": "{name}님 당첨!", "recipients": recipients}
    reply = client.post("/notification-sends", body)
    assert reply.status == 202, reply.body
    return str(reply.body["send_id"])


def _run_background(bus: dict[str, Any], rounds: int = 4) -> None:
    """Send jobs, then the events and delivery consumers, until their queues are empty."""
    context = LambdaContextStub()
    for _ in range(rounds):
        jobs = drain_queue(bus["sqs"], bus["notification_queue_url"])
        if jobs:
            assert consume_notifications(sqs_event(jobs), context) == {"batchItemFailures": []}
        events = drain_queue(bus["sqs"], bus["events_queue_url"])
        if events:
            assert consume_events(sqs_event(events), context) == {"batchItemFailures": []}
        deliveries = drain_queue(bus["sqs"], bus["webhook_queue_url"])
        if deliveries:
            assert consume_deliveries(sqs_event(deliveries), context) == {"batchItemFailures": []}
        if not (jobs or events or deliveries):
            return


def _bodies(receiver: WebhookReceiver, path: str) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in receiver.received(path) if r.status == 200]


def test_register_list_read_and_delete_without_showing_the_secret_again(aws: dict[str, Any]) -> None:
    client = new_account()
    reply = client.post(
        "/webhooks", {"url": "http://127.0.0.1:9/hook", "events": ["recipient.sent"], "description": "CRM"}
    )
    assert reply.status == 201, reply.body
    created = reply.body
    assert created["secret"].startswith("whsec_") and created["enabled"] is True
    assert set(created) == {"webhook_id", "url", "events", "description", "enabled", "created_at", "secret"}
    listed = client.get("/webhooks").body["items"]
    assert [w["webhook_id"] for w in listed] == [created["webhook_id"]]
    assert "secret" not in listed[0] and "secret" not in client.get(f"/webhooks/{created['webhook_id']}").body
    stored = DataStore(boto3.client("dynamodb"), TABLE).get_webhook(client.account_id, created["webhook_id"])
    assert stored is not None and created["secret"] not in json.dumps(stored.model_dump(mode="json"))
    other = new_account("Other")
    assert other.get(f"/webhooks/{created['webhook_id']}").status == 404
    assert other.delete(f"/webhooks/{created['webhook_id']}").status == 404
    assert other.get(f"/webhooks/{created['webhook_id']}/deliveries").status == 404
    assert client.delete(f"/webhooks/{created['webhook_id']}").status == 204
    assert client.get(f"/webhooks/{created['webhook_id']}").status == 404
    assert client.delete(f"/webhooks/{created['webhook_id']}").status == 404


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",  # not https
        "https://10.0.0.1/x",
        "https://169.254.169.254/latest",
        "https://[fe80::1]/x",
        "https://224.0.0.1/x",
        "ftp://127.0.0.1:21/x",
    ],
)
def test_urls_the_contract_refuses_are_422(aws: dict[str, Any], url: str) -> None:
    reply = new_account().post("/webhooks", {"url": url, "events": ["recipient.sent"]})
    assert reply.status == 422 and reply.body["code"] == "VALIDATION_ERROR"


def test_events_must_be_known_and_not_empty(aws: dict[str, Any]) -> None:
    client = new_account()
    assert client.post("/webhooks", {"url": "https://hooks.example.com/x", "events": []}).status == 422
    assert client.post("/webhooks", {"url": "https://hooks.example.com/x", "events": ["send.started"]}).status == 422


def test_at_most_ten_webhooks_per_account(aws: dict[str, Any]) -> None:
    client = new_account()
    ids = []
    for n in range(10):
        reply = client.post("/webhooks", {"url": f"https://hooks.example.com/{n}", "events": ["send.completed"]})
        assert reply.status == 201
        ids.append(reply.body["webhook_id"])
    refused = client.post("/webhooks", {"url": "https://hooks.example.com/11", "events": ["send.completed"]})
    assert refused.status == 409 and refused.body["code"] == "INVALID_STATE"
    assert (
        new_account("Other")
        .post("/webhooks", {"url": "https://hooks.example.com/o", "events": ["send.completed"]})
        .status
        == 201
    )
    assert client.delete(f"/webhooks/{ids[0]}").status == 204
    assert (
        client.post("/webhooks", {"url": "https://hooks.example.com/again", "events": ["send.completed"]}).status == 201
    )


def test_a_send_tells_its_account_webhooks_signed_and_never_another_account(
    bus: dict[str, Any], receiver: WebhookReceiver
) -> None:
    client, other = new_account(credits=100_000), new_account("Other", credits=100_000)
    mine = _register(client, receiver, "/mine")
    _register(other, receiver, "/other")
    send_id = _sms_send(client, ["010-1234-5678", "010-2222-0000"])  # delivered, and a number that does not exist
    _run_background(bus)
    assert receiver.received("/other") == []
    received = receiver.received("/mine")
    assert received and all(r.verified for r in received)
    bodies = _bodies(receiver, "/mine")
    by_type = {b["type"]: b for b in bodies}
    assert sorted(b["type"] for b in bodies) == ["recipient.failed", "recipient.sent", "send.completed"]
    sent = by_type["recipient.sent"]["data"]
    listed = client.get(f"/notification-sends/{send_id}/recipients").body["items"]
    assert sent == {**next(r for r in listed if r["status"] == "SENT"), "send_id": send_id, "kind": "notification"}
    assert by_type["recipient.failed"]["data"]["failure_reason"] == "INVALID_RECIPIENT"
    completed = by_type["send.completed"]["data"]
    assert (
        completed["send_id"] == send_id and completed["status"] == "COMPLETED" and completed["kind"] == "notification"
    )
    assert any("김민지" in r.body for r in received)  # Korean travels as characters, not \u escapes
    deliveries = client.get(f"/webhooks/{mine['webhook_id']}/deliveries").body["items"]
    assert {d["status"] for d in deliveries} == {"SUCCEEDED"} and len(deliveries) == 3
    assert {d["event_id"] for d in deliveries} == {r.webhook_id for r in received}


def test_a_failed_attempt_is_retried_with_the_same_webhook_id(bus: dict[str, Any], receiver: WebhookReceiver) -> None:
    client = new_account(credits=100_000)
    hook = _register(client, receiver, "/flaky", ["recipient.sent"])
    receiver.fail_first("/flaky", count=1)
    _sms_send(client, ["010-1234-5678"])
    _run_background(bus)
    attempts = receiver.received("/flaky")
    assert [a.status for a in attempts] == [500, 200]
    assert attempts[0].webhook_id == attempts[1].webhook_id and attempts[0].body == attempts[1].body
    (delivery,) = client.get(f"/webhooks/{hook['webhook_id']}/deliveries").body["items"]
    assert delivery["status"] == "SUCCEEDED" and delivery["attempts"] == 2 and delivery["last_status_code"] == 200


def test_a_receiver_that_never_answers_2xx_ends_failed_after_the_schedule(
    bus: dict[str, Any], receiver: WebhookReceiver
) -> None:
    client = new_account(credits=100_000)
    hook = _register(client, receiver, "/down", ["recipient.sent"])
    receiver.fail_first("/down", count=10, status=503)
    _sms_send(client, ["010-1234-5678"])
    _run_background(bus, rounds=8)
    (delivery,) = client.get(f"/webhooks/{hook['webhook_id']}/deliveries").body["items"]
    assert delivery["status"] == "FAILED" and delivery["attempts"] == 4  # the first and three retries
    assert delivery["last_status_code"] == 503 and delivery["next_attempt_at"] is None
    assert len(receiver.received("/down")) == 4


def test_replay_sends_it_again_with_the_same_webhook_id(bus: dict[str, Any], receiver: WebhookReceiver) -> None:
    client = new_account(credits=100_000)
    hook = _register(client, receiver, "/replay", ["recipient.sent"])
    _sms_send(client, ["010-1234-5678"])
    _run_background(bus)
    (delivery,) = client.get(f"/webhooks/{hook['webhook_id']}/deliveries").body["items"]
    path = f"/webhooks/{hook['webhook_id']}/deliveries/{delivery['delivery_id']}/retry"
    assert new_account("Other").post(path).status == 404
    reply = client.post(path)
    assert reply.status == 202 and reply.body["status"] == "PENDING"
    _run_background(bus)
    first, again = receiver.received("/replay")
    assert first.webhook_id == again.webhook_id and again.verified
    (after,) = client.get(f"/webhooks/{hook['webhook_id']}/deliveries").body["items"]
    assert after["status"] == "SUCCEEDED" and after["attempts"] == 2


def test_an_event_published_twice_is_delivered_once(bus: dict[str, Any], receiver: WebhookReceiver) -> None:
    client = new_account(credits=100_000)
    _register(client, receiver, "/once", ["recipient.sent"])
    _sms_send(client, ["010-1234-5678"])
    context = LambdaContextStub()
    jobs = drain_queue(bus["sqs"], bus["notification_queue_url"])
    consume_notifications(sqs_event(jobs), context)
    events = drain_queue(bus["sqs"], bus["events_queue_url"])
    consume_events(sqs_event(events + events), context)  # the bus's at-least-once: the same events twice
    consume_deliveries(sqs_event(drain_queue(bus["sqs"], bus["webhook_queue_url"])), context)
    assert len(receiver.received("/once")) == 1


def test_a_delivery_whose_lambda_died_is_queued_again_by_the_sweep(
    bus: dict[str, Any], receiver: WebhookReceiver
) -> None:
    client = new_account(credits=100_000)
    _register(client, receiver, "/lost", ["recipient.sent"])
    _sms_send(client, ["010-1234-5678"])
    context = LambdaContextStub()
    consume_notifications(sqs_event(drain_queue(bus["sqs"], bus["notification_queue_url"])), context)
    consume_events(sqs_event(drain_queue(bus["sqs"], bus["events_queue_url"])), context)
    drain_queue(bus["sqs"], bus["webhook_queue_url"])  # the delivery job is lost (its Lambda died)
    from functions.dispatch_due.handler import dependencies

    assert run_periodic_dispatch(*dependencies(), utc_now())["webhook_deliveries_queued"] == 1
    consume_deliveries(sqs_event(drain_queue(bus["sqs"], bus["webhook_queue_url"])), context)
    assert [r.status for r in receiver.received("/lost")] == [200]


def test_a_name_that_resolves_to_a_private_address_is_refused_at_delivery(
    bus: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from functions.webhook_delivery import handler
    from shared.adapters.webhook_http import WebhookPoster

    asked: list[str] = []

    def resolver(host: str, port: int) -> list[str]:  # DNS that now answers with a private address (rebinding)
        asked.append(host)
        return ["10.0.0.5"]

    store, cipher, _, queue, schedule = handler.dependencies()
    poster = WebhookPoster(production=True, resolver=resolver)
    monkeypatch.setattr(handler, "dependencies", cache(lambda: (store, cipher, poster, queue, schedule)))
    client = new_account(credits=100_000)
    reply = client.post("/webhooks", {"url": "https://hooks.example.com/x", "events": ["recipient.sent"]})
    assert reply.status == 201  # a name is judged when it is used, not when it is registered
    _sms_send(client, ["010-1234-5678"])
    _run_background(bus, rounds=8)
    assert asked and set(asked) == {"hooks.example.com"}
    (delivery,) = client.get(f"/webhooks/{reply.body['webhook_id']}/deliveries").body["items"]
    assert delivery["status"] == "FAILED" and delivery["last_status_code"] is None
    assert delivery["last_error"] == "address not allowed: private address"


def test_an_account_without_webhooks_writes_no_account_events(bus: dict[str, Any]) -> None:
    client = new_account(credits=100_000)
    _sms_send(client, ["010-1234-5678", "010-2222-0000"])
    _run_background(bus)
    assert drain_queue(bus["sqs"], bus["events_queue_url"]) == []  # nothing published on the bus
    store = DataStore(boto3.client("dynamodb"), TABLE)
    assert store.stale_outbox(utc_now() + timedelta(hours=1)) == []  # and nothing waits in the outbox
