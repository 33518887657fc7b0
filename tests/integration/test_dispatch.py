"""The dispatcher: scheduled sends start when due; an interrupted enqueue is finished later."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import boto3
import pytest

from functions.dispatch_due import handler as dispatcher
from shared.adapters.queue import WorkQueue
from shared.adapters.store import DataStore, DispatchIndex
from shared.domain.clock import to_rfc3339, utc_now
from shared.domain.sends.dispatch import dispatch_due_sends
from shared.models.common import SendKind
from tests.integration.api_client import ADMIN, ApiClient, new_account
from tests.integration.conftest import TABLE
from tests.lambda_events import LambdaContextStub, drain_queue


@pytest.fixture
def client(aws: dict[str, Any]) -> ApiClient:
    assert ADMIN.post("/admin/catalog/sync").status == 200
    return new_account(credits=100_000)


def _body(client: ApiClient, **extra: Any) -> dict[str, Any]:
    promotion = client.post("/promotions", {"name": "p"}).body["promotion_id"]
    return {
        "promotion_id": promotion,
        "gift_id": "SBX-COFFEE",
        "title": "t",
        "content": "c",
        "recipients": [{"phone": f"010-3333-{i:04d}"} for i in range(1, 8)],
        **extra,
    }


def _dispatch(aws: dict[str, Any], minutes_ahead: float) -> int:
    client = boto3.client("dynamodb")
    queues = {SendKind.GIFT: WorkQueue(aws["sqs"], aws["queue_url"])}
    later = utc_now() + timedelta(minutes=minutes_ahead)
    return dispatch_due_sends(DataStore(client, TABLE), DispatchIndex(client, TABLE), queues, later)


def test_a_send_whose_enqueue_died_is_dispatched_after_the_grace(
    aws: dict[str, Any], client: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def dies(self: WorkQueue, jobs: Any) -> int:
        raise RuntimeError("Lambda timed out")

    body = _body(client)
    with monkeypatch.context() as patched:
        patched.setattr(WorkQueue, "enqueue", dies)
        assert client.post("/gift-sends", body).status == 202  # accepted: durable, dispatched later
    (send,) = client.get("/gift-sends").body["items"]
    assert send["counts"]["pending"] == 7
    assert drain_queue(aws["sqs"], aws["queue_url"]) == []

    assert _dispatch(aws, 0) == 0  # within the grace the API call may still be finishing
    assert _dispatch(aws, 3) == 1
    assert len(drain_queue(aws["sqs"], aws["queue_url"])) == 2
    assert _dispatch(aws, 3) == 0  # dispatched once


def test_scheduled_send_starts_only_when_due(aws: dict[str, Any], client: ApiClient) -> None:
    send_at = utc_now() + timedelta(minutes=10)
    reply = client.post("/gift-sends", _body(client, send_at=to_rfc3339(send_at)))
    assert reply.body["status"] == "SCHEDULED"
    assert drain_queue(aws["sqs"], aws["queue_url"]) == []
    assert _dispatch(aws, 5) == 0
    assert _dispatch(aws, 11) == 1
    assert len(drain_queue(aws["sqs"], aws["queue_url"])) == 2
    assert client.get(f"/gift-sends/{reply.body['send_id']}").body["status"] == "QUEUED"


def test_drafts_are_never_dispatched(aws: dict[str, Any], client: ApiClient) -> None:
    reply = client.post("/gift-sends", _body(client, draft=True))
    assert reply.body["status"] == "DRAFT"
    assert _dispatch(aws, 60 * 24 * 100) == 0
    assert drain_queue(aws["sqs"], aws["queue_url"]) == []


def test_handler_runs_on_schedule_event(aws: dict[str, Any], client: ApiClient) -> None:
    dispatcher.dependencies.cache_clear()
    result = dispatcher.lambda_handler({"source": "aws.events", "detail-type": "Scheduled Event"}, LambdaContextStub())
    assert result == {"dispatched": 0, "events_published": 0, "webhook_deliveries_queued": 0}


def test_retry_after_a_crash_finishes_the_same_send(
    aws: dict[str, Any], client: ApiClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API dies after storing and enqueuing the send, before answering; the client retries."""

    def dies(self: DataStore, *args: Any) -> None:
        raise RuntimeError("Lambda died")

    body = _body(client)
    with monkeypatch.context() as patched:
        patched.setattr(DataStore, "mark_dispatched", dies)
        assert client.post("/gift-sends", body, headers={"Idempotency-Key": "retry-1"}).status == 500
    retried = client.post("/gift-sends", body, headers={"Idempotency-Key": "retry-1"})
    assert retried.status == 202
    sends = client.get("/gift-sends").body["items"]
    assert [s["send_id"] for s in sends] == [retried.body["send_id"]]
    assert retried.body["total"] == 7
