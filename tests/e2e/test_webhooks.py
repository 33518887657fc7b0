"""Webhooks on the deployed stack (contract v1.1, "Webhooks"): registration rules, events of real sends through the
bus, the events and delivery Lambdas to a receiver on 127.0.0.1 that verifies every signature with the
`standardwebhooks` library, a receiver that fails its first attempt, replays and tenant isolation.

The local stack is not production (http://127.0.0.1:<port> is allowed) and retries after about 5 s."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest

from tests.e2e.conftest import AccountFactory, Client, create_promotion, wait_settled
from tests.fakes.webhook_receiver import ReceivedWebhook, WebhookReceiver

ALL_EVENTS = ["recipient.sent", "recipient.delivered", "recipient.failed", "send.completed", "balance.low"]
EVENT_TIMEOUT = 150.0  # a delivery report comes within about a minute, plus the poller's period on a busy machine


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


def _register(client: Client, receiver: WebhookReceiver, path: str, events: list[str] = ALL_EVENTS) -> dict:
    reply = client.post("/webhooks", {"url": receiver.url + path, "events": events, "description": "e2e"})
    assert reply.status == 201, reply
    receiver.set_secret(path, reply.body["secret"])
    return dict(reply.body)


def _sms_send(client: Client, phones: list[str]) -> str:
    assert client.post("/charges", {"channel": "sms", "quantity": len(phones)}).status == 201
    body = {
        "promotion_id": create_promotion(client),
        "channel": "sms",
        "content": "{name}님, 당첨을 축하합니다!",
        "recipients": [{"phone": phone, "name": "김민지"} for phone in phones],
    }
    reply = client.post("/notification-sends", body)
    assert reply.status == 202, reply
    return str(reply.body["send_id"])


def _until(found: Callable[[], list[ReceivedWebhook]], count: int, what: str) -> list[ReceivedWebhook]:
    deadline = time.monotonic() + EVENT_TIMEOUT
    while time.monotonic() < deadline:
        got = found()
        if len(got) >= count:
            return got
        time.sleep(0.5)
    pytest.fail(f"{what}: {len(found())} of {count} within {EVENT_TIMEOUT:.0f}s")


def _accepted(receiver: WebhookReceiver, path: str) -> list[ReceivedWebhook]:
    return [r for r in receiver.received(path) if r.status == 200]


def test_registration_follows_the_contract(new_account: AccountFactory) -> None:
    client, other = new_account("Webhooks"), new_account("Other")
    reply = client.post("/webhooks", {"url": "http://127.0.0.1:9/hook", "events": ["send.completed"]})
    assert reply.status == 201, reply
    created = reply.body
    assert created["secret"].startswith("whsec_") and created["enabled"] is True and created["description"] is None
    webhook_id = created["webhook_id"]
    assert [w["webhook_id"] for w in client.get("/webhooks").body["items"]] == [webhook_id]
    shown = client.get(f"/webhooks/{webhook_id}").body
    assert shown == {k: v for k, v in created.items() if k != "secret"}
    for refused in (
        "http://hooks.example.com/x",
        "https://10.1.2.3/x",
        "https://169.254.169.254/",
        "https://[ff02::1]/",
    ):
        answer = client.post("/webhooks", {"url": refused, "events": ["send.completed"]})
        assert answer.status == 422 and answer.body["code"] == "VALIDATION_ERROR", (refused, answer)
    assert other.get(f"/webhooks/{webhook_id}").status == 404
    assert other.get(f"/webhooks/{webhook_id}/deliveries").status == 404
    assert other.delete(f"/webhooks/{webhook_id}").status == 404
    assert other.get("/webhooks").body["items"] == []
    assert client.delete(f"/webhooks/{webhook_id}").status == 204
    assert client.get(f"/webhooks/{webhook_id}").status == 404


def test_at_most_ten_webhooks(new_account: AccountFactory) -> None:
    client = new_account("Ten hooks")
    for n in range(10):
        assert (
            client.post("/webhooks", {"url": f"https://hooks.example.com/{n}", "events": ["balance.low"]}).status == 201
        )
    eleventh = client.post("/webhooks", {"url": "https://hooks.example.com/11", "events": ["balance.low"]})
    assert eleventh.status == 409 and eleventh.body["code"] == "INVALID_STATE"


def test_a_send_is_told_signed_and_only_to_its_account(new_account: AccountFactory, receiver: WebhookReceiver) -> None:
    client, other = new_account("Told", credits=50_000), new_account("Not told", credits=50_000)
    hook = _register(client, receiver, "/told")
    _register(other, receiver, "/not-told")
    # Delivered (then reported delivered), and reported as an unknown subscriber: 4 recipient events + completion.
    send_id = _sms_send(client, ["010-4800-0001", "010-4800-7777"])
    received = _until(lambda: _accepted(receiver, "/told"), 5, "events of the send")
    assert all(r.verified for r in receiver.received("/told"))
    bodies = [json.loads(r.body) for r in received]
    types = sorted(b["type"] for b in bodies)
    assert types == ["recipient.delivered", "recipient.failed", "recipient.sent", "recipient.sent", "send.completed"]
    assert receiver.received("/not-told") == []
    assert any("김민지" in r.body for r in received)  # UTF-8 characters, not \u escapes
    wait_settled(client, send_id, sends="notification-sends")
    rows = {r["recipient_id"]: r for r in client.get(f"/notification-sends/{send_id}/recipients").body["items"]}
    for body in bodies:
        data = body["data"]
        if body["type"] == "send.completed":
            assert data["send_id"] == send_id and data["kind"] == "notification" and data["status"] == "COMPLETED"
            continue
        assert data["send_id"] == send_id and data["kind"] == "notification"
        assert set(data) - {"send_id", "kind"} == set(rows[data["recipient_id"]])
    failed = next(b["data"] for b in bodies if b["type"] == "recipient.failed")
    assert failed["phone"] == "+821048007777" and failed["failure_reason"] == "INVALID_RECIPIENT"
    delivered = next(b["data"] for b in bodies if b["type"] == "recipient.delivered")
    assert delivered["delivered_at"] is not None and delivered == {**rows[delivered["recipient_id"]], **delivered}
    deliveries = client.get(f"/webhooks/{hook['webhook_id']}/deliveries").body["items"]
    assert len(deliveries) == 5 and {d["status"] for d in deliveries} == {"SUCCEEDED"}
    assert {d["event_id"] for d in deliveries} == {r.webhook_id for r in received}


def test_a_receiver_that_fails_first_gets_it_again_then_a_replay(
    new_account: AccountFactory, receiver: WebhookReceiver
) -> None:
    client = new_account("Flaky", credits=50_000)
    hook = _register(client, receiver, "/flaky", ["recipient.sent"])
    receiver.fail_first("/flaky", count=1)
    _sms_send(client, ["010-4800-0002"])
    first, retried = _until(lambda: receiver.received("/flaky"), 2, "the first attempt and its retry")[:2]
    assert (first.status, retried.status) == (500, 200) and first.verified and retried.verified
    assert first.webhook_id == retried.webhook_id and first.body == retried.body
    (delivery,) = client.get(f"/webhooks/{hook['webhook_id']}/deliveries").body["items"]
    assert delivery["status"] == "SUCCEEDED" and delivery["attempts"] == 2 and delivery["last_status_code"] == 200
    path = f"/webhooks/{hook['webhook_id']}/deliveries/{delivery['delivery_id']}/retry"
    replayed = client.post(path)
    assert replayed.status == 202, replayed
    again = _until(lambda: receiver.received("/flaky"), 3, "the replay")[2]
    assert again.webhook_id == first.webhook_id and again.verified and again.body == first.body
