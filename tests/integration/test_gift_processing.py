"""Money rules of background gift processing: sandbox outcomes, partial funds, duplicates, crashes."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from functions.send_gift.handler import lambda_handler as consume
from shared.adapters.gift_provider import SandboxGiftProvider
from shared.adapters.store import DataStore
from shared.domain.gifts.gift_processing import GiftPayment
from shared.domain.gifts.provider import IssueRequest, IssueResult
from shared.domain.jobs import BatchJob
from shared.domain.sends.batch_processing import BatchWorker, process_batch
from shared.errors import ConcurrentUpdate
from tests.integration.api_client import ADMIN, ApiClient, new_account
from tests.integration.conftest import TABLE
from tests.integration.money import assert_ledger_matches_balance, assert_send_consistent, issued_coupons, recipients_of
from tests.lambda_events import LambdaContextStub, drain_queue, sqs_event

COFFEE = 4_500


class SimulatedCrash(Exception):
    """The Lambda dies here."""


def _send(client: ApiClient, phones: list[str], gift: str = "SBX-COFFEE") -> str:
    promotion = client.post("/promotions", {"name": "Launch"}).body["promotion_id"]
    reply = client.post(
        "/gift-sends",
        {
            "promotion_id": promotion,
            "gift_id": gift,
            "title": "Winner",
            "content": "You won a coffee",
            "recipients": [{"phone": p, "name": f"n{i}"} for i, p in enumerate(phones)],
        },
    )
    assert reply.status == 202, reply.body
    return str(reply.body["send_id"])


def _jobs(aws: dict[str, Any]) -> list[dict[str, Any]]:
    return drain_queue(aws["sqs"], aws["queue_url"])


def _deliver(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return consume(sqs_event(messages), LambdaContextStub())


def _store() -> DataStore:
    return DataStore(boto3.client("dynamodb"), TABLE)


def _processing(**overrides: Any) -> BatchWorker:
    client = boto3.client("dynamodb")
    provider = overrides.pop("provider", SandboxGiftProvider(client, TABLE))
    fields: dict[str, Any] = {
        "store": DataStore(client, TABLE),
        "payment": GiftPayment(provider),
        "retry_base_seconds": 0,
        "concurrency": 1,
    }
    return BatchWorker(**(fields | overrides))


def _job(message: dict[str, Any]) -> BatchJob:
    return BatchJob.model_validate_json(message["Body"])


@pytest.fixture
def catalog(aws: dict[str, Any]) -> None:
    assert ADMIN.post("/admin/catalog/sync").status == 200


def test_sandbox_outcomes_end_with_exact_credits(aws: dict[str, Any], catalog: None) -> None:
    client = new_account(credits=100_000)
    phones = ["010-1111-2222", "010-1234-0000", "010-1234-9999", "010-1234-8888", "+82 10-5555-6666", "02-123-4567"]
    send_id = _send(client, phones)
    assert _deliver(_jobs(aws)) == {"batchItemFailures": []}

    by_phone = {r.phone: r for r in recipients_of(_store(), client.account_id, send_id)}
    assert by_phone["+821011112222"].status == "SENT"
    assert by_phone["+821055556666"].status == "SENT"
    assert (by_phone["+821012348888"].status, by_phone["+821012348888"].attempts) == ("SENT", 3)
    assert (by_phone["+821012340000"].reason, by_phone["+821012340000"].resendable) == ("INVALID_RECIPIENT", False)
    assert (by_phone["+821012349999"].reason, by_phone["+821012349999"].resendable) == ("PROVIDER_ERROR", True)
    assert by_phone["02-123-4567"].reason == "INVALID_RECIPIENT"  # not a mobile number: never charged
    sent = [r for r in by_phone.values() if r.status == "SENT"]
    assert all(r.charged == COFFEE and r.coupon_id and r.expires_on for r in sent)
    assert client.get("/account").body["credits"] == 100_000 - 3 * COFFEE
    assert_ledger_matches_balance(_store(), client.account_id)
    assert_send_consistent(_store(), client.account_id, send_id)
    view = client.get(f"/gift-sends/{send_id}").body
    assert view["status"] == "PROCESSING"  # the provider error (9999) waits for its automatic retry
    assert view["counts"] == {"total": 6, "pending": 0, "sent": 3, "failed": 3, "resendable": 1}
    retries = {r["phone"]: r["next_retry_at"] for r in client.get(f"/gift-sends/{send_id}/recipients").body["items"]}
    assert retries.pop("+821012349999") is not None
    assert set(retries.values()) == {None}


def test_partial_funds_send_the_affordable_and_fail_the_rest(aws: dict[str, Any], catalog: None) -> None:
    client = new_account(credits=3 * COFFEE + 100)
    send_id = _send(client, [f"010-2000-{i:04d}" for i in range(1, 8)])  # 7 recipients, two batches
    _deliver(_jobs(aws))

    recipients = recipients_of(_store(), client.account_id, send_id)
    assert [r.status for r in recipients].count("SENT") == 3
    short = [r for r in recipients if r.status == "FAILED"]
    assert len(short) == 4
    assert all(r.reason == "INSUFFICIENT_CREDITS" and r.resendable and r.charged == 0 for r in short)
    assert client.get("/account").body["credits"] == 100
    assert_ledger_matches_balance(_store(), client.account_id)
    assert_send_consistent(_store(), client.account_id, send_id)


def test_same_message_delivered_twice_charges_once(aws: dict[str, Any], catalog: None) -> None:
    client = new_account(credits=50_000)
    send_id = _send(client, ["010-3000-0001", "010-3000-0002", "010-3000-9999"])
    messages = _jobs(aws)
    _deliver(messages)
    _deliver(messages)  # at-least-once delivery: the same messages again

    assert client.get("/account").body["credits"] == 50_000 - 2 * COFFEE
    assert_ledger_matches_balance(_store(), client.account_id)
    assert_send_consistent(_store(), client.account_id, send_id)
    ledger = client.get("/account/ledger").body["items"]
    assert [e["type"] for e in ledger].count("GIFT_DEBIT") == 1


@pytest.mark.parametrize("crash_at", ["reserved", "issued"])
def test_crash_between_steps_then_redelivery_issues_once(aws: dict[str, Any], catalog: None, crash_at: str) -> None:
    client = new_account(credits=50_000)
    send_id = _send(client, ["010-4000-0001", "010-4000-0002", "010-4000-0000"])
    (message,) = _jobs(aws)

    def crash(step: str) -> None:
        if step == crash_at:
            raise SimulatedCrash(step)

    with pytest.raises(SimulatedCrash):
        process_batch(_processing(checkpoint=crash), _job(message))
    # After the crash the debit is durable and the recipients are still pending, with work queued.
    assert client.get("/account").body["credits"] == 50_000 - 3 * COFFEE
    assert client.get(f"/gift-sends/{send_id}").body["counts"]["pending"] == 3
    assert_ledger_matches_balance(_store(), client.account_id)

    before = {r.rid: r for r in recipients_of(_store(), client.account_id, send_id)}
    process_batch(_processing(), _job(message))  # SQS redelivers after the visibility timeout

    after = {r.rid: r for r in recipients_of(_store(), client.account_id, send_id)}
    assert [r.status for r in after.values()] == ["SENT", "SENT", "FAILED"]
    assert client.get("/account").body["credits"] == 50_000 - 2 * COFFEE
    assert_ledger_matches_balance(_store(), client.account_id)
    assert_send_consistent(_store(), client.account_id, send_id)
    issued = issued_coupons(TABLE, send_id)
    assert sorted(issued) == sorted(r.coupon_id for r in after.values() if r.coupon_id)
    assert all(count == 1 for count in issued.values())
    assert before.keys() == after.keys()


def test_concurrent_delivery_of_a_reserved_batch_settles_once(aws: dict[str, Any], catalog: None) -> None:
    """Two consumers hold the same message: the second reaches settle after the first settled."""
    client = new_account(credits=50_000)
    send_id = _send(client, ["010-5000-0001", "010-5000-9999"])
    (message,) = _jobs(aws)
    store = _store()

    class SecondConsumerFirst:
        """Runs a whole competing delivery right after this one issued, before it settles."""

        def __init__(self) -> None:
            self.done = False

        def __call__(self, step: str) -> None:
            if step == "issued" and not self.done:
                self.done = True
                process_batch(_processing(), _job(message))

    process_batch(_processing(checkpoint=SecondConsumerFirst()), _job(message))
    assert client.get("/account").body["credits"] == 50_000 - COFFEE
    assert_ledger_matches_balance(store, client.account_id)
    assert_send_consistent(store, client.account_id, send_id)


def test_two_sends_racing_for_the_last_credits_never_overdraw(aws: dict[str, Any], catalog: None) -> None:
    """Send B debits between send A's balance read and A's conditional write; A must re-read."""
    client = new_account(credits=3 * COFFEE)
    send_a = _send(client, ["010-6000-0001", "010-6000-0002"])
    send_b = _send(client, ["010-6100-0001", "010-6100-0002"])
    messages = _jobs(aws)
    job_a, job_b = (next(_job(m) for m in messages if _job(m).send_id == s) for s in (send_a, send_b))

    store = _store()
    interleaved = {"done": False}

    class RacingStore(DataStore):
        def commit_reservation(self, *args: Any, **kwargs: Any) -> None:
            if not interleaved["done"]:
                interleaved["done"] = True
                process_batch(_processing(), job_b)  # B wins the race for the balance
            super().commit_reservation(*args, **kwargs)

    racing = RacingStore(boto3.client("dynamodb"), TABLE)
    process_batch(_processing(store=racing), job_a)

    balance = store.get_balance(client.account_id)
    assert balance.credits == 0
    sent = [r for s in (send_a, send_b) for r in recipients_of(store, client.account_id, s) if r.status == "SENT"]
    assert len(sent) == 3
    assert_ledger_matches_balance(store, client.account_id)
    for send_id in (send_a, send_b):
        assert_send_consistent(store, client.account_id, send_id)


def test_conflicts_are_retried_not_lost(aws: dict[str, Any], catalog: None) -> None:
    client = new_account(credits=10_000)
    send_id = _send(client, ["010-7000-0001"])
    (message,) = _jobs(aws)
    failures = {"left": 2}

    class FlakyStore(DataStore):
        def commit_settlement(self, *args: Any, **kwargs: Any) -> None:
            if failures["left"]:
                failures["left"] -= 1
                raise ConcurrentUpdate("simulated TransactionConflict")
            super().commit_settlement(*args, **kwargs)

    process_batch(_processing(store=FlakyStore(boto3.client("dynamodb"), TABLE)), _job(message))
    assert failures["left"] == 0
    assert [r.status for r in recipients_of(_store(), client.account_id, send_id)] == ["SENT"]
    assert_ledger_matches_balance(_store(), client.account_id)


def test_discontinued_gift_fails_pending_without_debit(aws: dict[str, Any], catalog: None) -> None:
    client = new_account(credits=10_000)
    send_id = _send(client, ["010-8000-0001"])
    (message,) = _jobs(aws)
    store = _store()
    gift = store.get_gift("SBX-COFFEE")
    assert gift is not None
    store.put_gifts([gift.model_copy(update={"status": "DISCONTINUED"})])

    _deliver([message])
    (recipient,) = recipients_of(store, client.account_id, send_id)
    assert (recipient.status, recipient.reason, recipient.resendable) == ("FAILED", "GIFT_UNAVAILABLE", False)
    assert client.get("/account").body["credits"] == 10_000
    assert_send_consistent(store, client.account_id, send_id)


def test_a_price_change_applies_to_later_debits(aws: dict[str, Any], catalog: None) -> None:
    client = new_account(credits=10_000)
    _send(client, ["010-8100-0001"])
    store = _store()
    gift = store.get_gift("SBX-COFFEE")
    assert gift is not None
    store.put_gifts([gift.model_copy(update={"price": 5_000})])
    _deliver(_jobs(aws))
    assert client.get("/account").body["credits"] == 5_000


def test_provider_is_asked_with_a_stable_key_per_recipient_attempt(aws: dict[str, Any], catalog: None) -> None:
    client = new_account(credits=10_000)
    _send(client, ["010-9000-8888"])
    (message,) = _jobs(aws)
    seen: list[str] = []
    sandbox = SandboxGiftProvider(boto3.client("dynamodb"), TABLE)

    class Recording:
        def issue(self, request: IssueRequest) -> IssueResult:
            seen.append(request.idempotency_key)
            return sandbox.issue(request)

        def catalog(self) -> list[Any]:
            return sandbox.catalog()

    process_batch(_processing(provider=Recording()), _job(message))
    assert len(seen) == 3 and len(set(seen)) == 1  # two transient failures, retried with the same key


def test_consumer_publishes_operational_metrics(
    aws: dict[str, Any], catalog: None, capsys: pytest.CaptureFixture[str]
) -> None:
    client = new_account(credits=50_000)
    _send(client, ["010-9100-0001", "010-9100-9999"])
    capsys.readouterr()
    _deliver(_jobs(aws))
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    names = {m["Name"] for doc in emitted for d in doc["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert {"RecipientsSent", "FailuresPROVIDER_ERROR", "ProviderErrors", "ProviderLatency", "CreditsDebited"} <= names
    (document,) = emitted
    assert document["RecipientsSent"] in (1, [1.0])
    assert document["CreditsDebited"] in (COFFEE, [COFFEE])
