"""Notification sends: message rules at the API, counts taken oldest charge first per recipient, the
sandbox outcomes, and the money rules under duplicates, crashes and racing sends."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from functions.send_notification.handler import lambda_handler as consume
from shared.adapters.store import DataStore
from shared.domain.jobs import BatchJob
from shared.domain.sends.batch_processing import BatchWorker, process_batch
from shared.models.common import SendKind
from tests.integration.api_client import ApiClient, Reply, new_account
from tests.integration.conftest import TABLE
from tests.integration.money import assert_ledger_matches_balance, assert_send_consistent, recipients_of
from tests.lambda_events import LambdaContextStub, drain_queue, sqs_event

KIND = SendKind.NOTIFICATION


class SimulatedCrash(Exception):
    """The Lambda dies here."""


def _store() -> DataStore:
    return DataStore(boto3.client("dynamodb"), TABLE)


def _account(counts: dict[str, int], credits: int = 100_000) -> ApiClient:
    client = new_account(credits=credits)
    for channel, quantity in counts.items():
        assert client.post("/charges", {"channel": channel, "quantity": quantity}).status == 201
    return client


def _post_send(
    client: ApiClient,
    channel: str,
    recipients: list[dict[str, str]],
    content: str = "Hi {name}, you won!",
    title: str | None = None,
    **fields: Any,
) -> Reply:
    """POST /notification-sends for a new promotion (``fields``: more of the request body)."""
    promotion = client.post("/promotions", {"name": "Launch"}).body["promotion_id"]
    body: dict[str, Any] = {"promotion_id": promotion, "channel": channel, "content": content, "recipients": recipients}
    body |= fields
    if title:
        body["title"] = title
    return client.post("/notification-sends", body)


def _send(client: ApiClient, channel: str, recipients: list[dict[str, str]], **message: Any) -> str:
    """A send the API accepts (``message``: _post_send's content, title and fields); returns its id."""
    reply = _post_send(client, channel, recipients, **message)
    assert reply.status == 202, reply.body
    return str(reply.body["send_id"])


def _jobs(aws: dict[str, Any]) -> list[dict[str, Any]]:
    return drain_queue(aws["sqs"], aws["notification_queue_url"])


def _deliver(messages: list[dict[str, Any]]) -> None:
    assert consume(sqs_event(messages), LambdaContextStub()) == {"batchItemFailures": []}


def _processing(**overrides: Any) -> BatchWorker:
    from functions.send_notification.handler import processing

    base = processing()
    fields: dict[str, Any] = {"store": base.store, "payment": base.payment, "retry_base_seconds": 0, "concurrency": 1}
    return BatchWorker(**(fields | overrides))


def _counts(client: ApiClient) -> dict[str, int]:
    return dict(client.get("/account").body["notification_balance"])


def test_mixed_outcomes_leave_counts_exact(aws: dict[str, Any]) -> None:
    client = _account({"sms": 10})
    phones = ["010-1111-2222", "010-1234-0000", "010-1234-9999", "010-1234-8888", "02-123-4567"]
    send_id = _send(client, "sms", [{"phone": p, "name": "Kim"} for p in phones])
    _deliver(_jobs(aws))

    by_phone = {r.phone: r for r in recipients_of(_store(), client.account_id, send_id, KIND)}
    assert by_phone["+821011112222"].status == "SENT"
    assert (by_phone["+821012348888"].status, by_phone["+821012348888"].attempts) == ("SENT", 3)
    assert (by_phone["+821012340000"].reason, by_phone["+821012340000"].resendable) == ("INVALID_RECIPIENT", False)
    assert (by_phone["+821012349999"].reason, by_phone["+821012349999"].resendable) == ("PROVIDER_ERROR", True)
    assert by_phone["02-123-4567"].reason == "INVALID_RECIPIENT"
    assert _counts(client)["sms"] == 10 - 2  # only the two delivered messages use a count
    assert_ledger_matches_balance(_store(), client.account_id)
    assert_send_consistent(_store(), client.account_id, send_id, KIND)
    view = client.get(f"/notification-sends/{send_id}").body
    # Nothing is pending, but the provider error (9999) waits for its automatic retry: not finished yet.
    assert (view["status"], view["channel"], view["origin"]) == ("PROCESSING", "sms", "MANUAL")
    assert view["counts"]["pending"] == 0
    recipients = client.get(f"/notification-sends/{send_id}/recipients", query={"status": "SENT"}).body["items"]
    assert {r["channel"] for r in recipients} == {"sms"}
    retries = {
        r["phone"]: r["next_retry_at"] for r in client.get(f"/notification-sends/{send_id}/recipients").body["items"]
    }
    assert retries.pop("+821012349999") is not None
    assert set(retries.values()) == {None}


def test_auto_uses_sms_for_short_and_lms_for_long_messages(aws: dict[str, Any]) -> None:
    client = _account({"sms": 5, "lms": 5})
    long_name = "가" * 40  # 80 bytes in EUC-KR: pushes this recipient's message over the sms limit
    send_id = _send(
        client, "auto", [{"phone": "010-2000-0001", "name": "Lee"}, {"phone": "010-2000-0002", "name": long_name}]
    )
    _deliver(_jobs(aws))
    channels = [r.channel for r in recipients_of(_store(), client.account_id, send_id, KIND)]
    assert channels == ["sms", "lms"]
    assert _counts(client) == {"sms": 4, "lms": 4, "email": 0}
    ledger = [e for e in client.get("/account/ledger").body["items"] if e["type"] == "NOTIFICATION_DEBIT"]
    assert sorted((e["notification_delta"]["channel"], e["notification_delta"]["count"]) for e in ledger) == [
        ("lms", -1),
        ("sms", -1),
    ]
    assert_ledger_matches_balance(_store(), client.account_id)


def test_email_outcomes(aws: dict[str, Any]) -> None:
    client = _account({"email": 5})
    send_id = _send(
        client,
        "email",
        [
            {"email": "kim@example.com"},
            {"email": "x@invalid.example"},
            {"email": "y@fail.example"},
            {"email": "not-an-address"},
        ],
        title="You won",
    )
    _deliver(_jobs(aws))
    reasons = [(r.status, r.reason) for r in recipients_of(_store(), client.account_id, send_id, KIND)]
    assert reasons == [
        ("SENT", None),
        ("FAILED", "INVALID_RECIPIENT"),
        ("FAILED", "PROVIDER_ERROR"),
        ("FAILED", "INVALID_RECIPIENT"),
    ]
    assert _counts(client)["email"] == 4


def test_no_counts_left_fails_resendably(aws: dict[str, Any]) -> None:
    client = _account({"lms": 2})
    send_id = _send(client, "lms", [{"phone": f"010-3000-{i:04d}"} for i in range(1, 5)])
    _deliver(_jobs(aws))
    recipients = recipients_of(_store(), client.account_id, send_id, KIND)
    assert [r.status for r in recipients] == ["SENT", "SENT", "FAILED", "FAILED"]
    assert all(r.reason == "INSUFFICIENT_NOTIFICATION_BALANCE" and r.resendable for r in recipients[2:])
    assert _counts(client)["lms"] == 0
    assert_send_consistent(_store(), client.account_id, send_id, KIND)


@pytest.mark.parametrize(
    ("channel", "content", "title", "recipients"),
    [
        ("sms", "x" * 91, None, [{"phone": "01012345678"}]),
        ("sms", "가" * 46, None, [{"phone": "01012345678"}]),
        ("sms", "hello", "a title", [{"phone": "01012345678"}]),
        ("lms", "x" * 2001, None, [{"phone": "01012345678"}]),
        ("lms", "hi", "x" * 41, [{"phone": "01012345678"}]),
        ("sms", "emoji 🎉", None, [{"phone": "01012345678"}]),
        ("email", "hello", None, [{"email": "a@example.com"}]),
        ("email", "hello", "subject", [{"phone": "01012345678"}]),
        ("sms", "hello", None, [{"email": "a@example.com"}]),
    ],
)
def test_message_rules_are_422(
    aws: dict[str, Any], channel: str, content: str, title: str | None, recipients: list[dict[str, str]]
) -> None:
    reply = _post_send(_account({}), channel, recipients, content, title)
    assert (reply.status, reply.body["code"]) == (422, "VALIDATION_ERROR"), reply.body


def test_ninety_bytes_fit_an_sms(aws: dict[str, Any]) -> None:
    client = _account({"sms": 1})
    send_id = _send(client, "sms", [{"phone": "010-4000-0001"}], content="가" * 45)
    assert client.get(f"/notification-sends/{send_id}").status == 200


def test_dry_run_counts_needed(aws: dict[str, Any]) -> None:
    client = _account({"sms": 1})
    recipients = [
        {"phone": "010-5000-0001", "name": "a"},
        {"phone": "010-5000-0002", "name": "가" * 50},
        {"phone": "bad"},
    ]
    reply = _post_send(client, "auto", recipients, "Hi {name}", dry_run=True)
    assert reply.status == 200
    assert reply.body == {
        "total": 3,
        "valid": 2,
        "invalid": 1,
        "counts_needed": {"sms": 1, "lms": 1, "email": 0},
        "available_counts": {"sms": 1, "lms": 0, "email": 0},
        "shortfall": {"sms": 0, "lms": 1, "email": 0},
    }
    assert client.get("/notification-sends").body["items"] == []


def test_duplicate_delivery_uses_counts_once(aws: dict[str, Any]) -> None:
    client = _account({"sms": 5})
    send_id = _send(client, "sms", [{"phone": "010-6000-0001"}, {"phone": "010-6000-9999"}])
    messages = _jobs(aws)
    _deliver(messages)
    _deliver(messages)
    assert _counts(client)["sms"] == 4
    assert_ledger_matches_balance(_store(), client.account_id)
    assert_send_consistent(_store(), client.account_id, send_id, KIND)


@pytest.mark.parametrize("crash_at", ["reserved", "issued"])
def test_crash_between_taking_a_count_and_the_provider(aws: dict[str, Any], crash_at: str) -> None:
    client = _account({"sms": 5})
    send_id = _send(client, "sms", [{"phone": "010-7000-0001"}, {"phone": "010-7000-0000"}])
    (message,) = _jobs(aws)
    job = BatchJob.model_validate_json(message["Body"])

    def crash(step: str) -> None:
        if step == crash_at:
            raise SimulatedCrash(step)

    with pytest.raises(SimulatedCrash):
        process_batch(_processing(checkpoint=crash), job)
    assert _counts(client)["sms"] == 3  # taken for both, durable, recipients still pending
    assert_ledger_matches_balance(_store(), client.account_id)
    process_batch(_processing(), job)
    assert _counts(client)["sms"] == 4  # the non-existent number gave its count back
    assert_ledger_matches_balance(_store(), client.account_id)
    assert_send_consistent(_store(), client.account_id, send_id, KIND)


def test_racing_sends_for_the_last_counts(aws: dict[str, Any]) -> None:
    client = _account({"email": 3})
    send_a = _send(client, "email", [{"email": f"a{i}@example.com"} for i in range(2)], title="t")
    send_b = _send(client, "email", [{"email": f"b{i}@example.com"} for i in range(2)], title="t")
    jobs = [BatchJob.model_validate_json(m["Body"]) for m in _jobs(aws)]
    job_a, job_b = (next(j for j in jobs if j.send_id == s) for s in (send_a, send_b))
    raced = {"done": False}

    class RacingStore(DataStore):
        def commit_reservation(self, *args: Any, **kwargs: Any) -> None:
            if not raced["done"]:
                raced["done"] = True
                process_batch(_processing(), job_b)
            super().commit_reservation(*args, **kwargs)

    process_batch(_processing(store=RacingStore(boto3.client("dynamodb"), TABLE)), job_a)
    store = _store()
    sent = [r for s in (send_a, send_b) for r in recipients_of(store, client.account_id, s, KIND) if r.status == "SENT"]
    assert len(sent) == 3
    assert _counts(client)["email"] == 0
    assert_ledger_matches_balance(store, client.account_id)
