"""Redriving the send queues' dead letters (scripts/redrive.py, the copy path: moto has no move task): jobs
that failed maxReceiveCount times go back to their queue, and the real consumer finishes every stuck batch
exactly once; a job redriven twice, or one of a settled batch or a cancelled send, changes nothing."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from functions.send_gift.handler import lambda_handler as consume_gifts
from functions.send_notification.handler import lambda_handler as consume_notifications
from scripts import redrive
from scripts.redrive import QueueName, SendQueue
from shared.adapters.gift_provider import SandboxGiftProvider
from shared.adapters.store import DataStore
from shared.domain.clock import to_rfc3339, utc_now
from shared.domain.gifts.gift_processing import GiftPayment
from shared.domain.jobs import BatchJob
from shared.domain.sends.batch_processing import BatchWorker, process_batch
from shared.models.common import SendKind
from tests.conftest import template
from tests.integration.api_client import ADMIN, ApiClient, new_account
from tests.integration.conftest import TABLE
from tests.integration.money import assert_ledger_matches_balance, assert_send_consistent, issued_coupons, recipients_of
from tests.lambda_events import LambdaContextStub, drain_queue, sqs_event

COFFEE = 4_500


class SimulatedCrash(Exception):
    """The Lambda dies here."""


@pytest.fixture
def queues(aws: dict[str, Any]) -> dict[QueueName, SendQueue]:
    """Each send queue with a dead-letter queue, under the template's RedrivePolicy."""
    sqs = aws["sqs"]
    resources = template()["Resources"]
    urls: dict[QueueName, str] = {"gift": aws["queue_url"], "notification": aws["notification_queue_url"]}
    found: dict[QueueName, SendQueue] = {}
    for name, url in urls.items():
        source_id, dead_letter_id = redrive.LOGICAL_IDS[name]
        policy = resources[source_id]["Properties"]["RedrivePolicy"]
        assert policy["deadLetterTargetArn"] == {"Fn::GetAtt": [dead_letter_id, "Arn"]}
        dead_letter_url = sqs.create_queue(QueueName=f"{name}-sends-dlq")["QueueUrl"]
        redrive_policy = {
            "deadLetterTargetArn": _arn(sqs, dead_letter_url),
            "maxReceiveCount": policy["maxReceiveCount"],
        }
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": json.dumps(redrive_policy)})
        found[name] = SendQueue(name, url, dead_letter_url)
    return found


@pytest.fixture
def catalog(aws: dict[str, Any]) -> None:
    assert ADMIN.post("/admin/catalog/sync").status == 200


def _arn(sqs: Any, url: str) -> str:
    return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])


def _waiting(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def _dead_letter(sqs: Any, queue: SendQueue, bodies: list[str]) -> None:
    """Puts the jobs on the send queue and fails every one of them maxReceiveCount times (a consumer that
    cannot finish them), so SQS moves them to the dead-letter queue as it does in production."""
    policy = json.loads(
        sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"]
    )
    for body in bodies:
        sqs.send_message(QueueUrl=queue.url, MessageBody=body)
    for _ in range(int(policy["maxReceiveCount"])):
        received = sqs.receive_message(QueueUrl=queue.url, MaxNumberOfMessages=10, VisibilityTimeout=0)
        assert len(received.get("Messages", [])) == len(bodies)
    assert sqs.receive_message(QueueUrl=queue.url, MaxNumberOfMessages=10).get("Messages", []) == []
    assert _waiting(sqs, queue.dead_letter_url) == len(bodies)


def _redrive(sqs: Any, queue: SendQueue, **options: Any) -> redrive.Redriven:
    return redrive.redrive(sqs, queue, receive_wait_seconds=0, **options)


def _consume(sqs: Any, queue: SendQueue) -> int:
    """Runs the queue's real consumer over everything on it; returns how many jobs it took."""
    return _consume_messages(queue, drain_queue(sqs, queue.url))


def _consume_messages(queue: SendQueue, messages: list[dict[str, Any]]) -> int:
    consumer = consume_gifts if queue.name == "gift" else consume_notifications
    if messages:
        assert consumer(sqs_event(messages), LambdaContextStub()) == {"batchItemFailures": []}
    return len(messages)


def _store() -> DataStore:
    return DataStore(boto3.client("dynamodb"), TABLE)


def _gift_send(client: ApiClient, phones: list[str], **fields: Any) -> str:
    promotion = client.post("/promotions", {"name": "Launch"}).body["promotion_id"]
    body = {
        "promotion_id": promotion,
        "gift_id": "SBX-COFFEE",
        "title": "Winner",
        "content": "You won a coffee",
        "recipients": [{"phone": p} for p in phones],
        **fields,
    }
    reply = client.post("/gift-sends", body)
    assert reply.status == 202, reply.body
    return str(reply.body["send_id"])


def _crash_after(step: str) -> BatchWorker:
    """The gift consumer's worker, dying at `step` (the batch is left as a failed Lambda leaves it)."""

    def crash(at: str) -> None:
        if at == step:
            raise SimulatedCrash(at)

    client = boto3.client("dynamodb")
    return BatchWorker(
        store=DataStore(client, TABLE),
        payment=GiftPayment(SandboxGiftProvider(client, TABLE)),
        retry_base_seconds=0,
        concurrency=1,
        checkpoint=crash,
    )


def _debits(account_id: str, send_id: str) -> list[Any]:
    return [
        e
        for e in _store().all_ledger_entries(account_id)
        if e.send_id == send_id and e.type in ("GIFT_DEBIT", "NOTIFICATION_DEBIT")
    ]


def _send_state(account_id: str, send_id: str, kind: SendKind) -> tuple[Any, ...]:
    """What a job of this send could change: its ledger entries, its counters and its recipients."""
    store = _store()
    ledger = sorted(e.model_dump_json() for e in store.all_ledger_entries(account_id) if e.send_id == send_id)
    send = store.get_send(account_id, kind, send_id)
    assert send is not None
    recipients = [r.model_dump() for r in recipients_of(store, account_id, send_id, kind)]
    return ledger, send.counts.model_dump(), recipients


def _state(account_id: str, send_id: str, kind: SendKind) -> tuple[Any, ...]:
    """The send's state with the account's balance and whole ledger."""
    store = _store()
    ledger = sorted(e.model_dump_json() for e in store.all_ledger_entries(account_id))
    return store.get_balance(account_id).model_dump(), ledger, *_send_state(account_id, send_id, kind)


def test_redrive_finishes_each_stuck_batch_once(
    aws: dict[str, Any], queues: dict[QueueName, SendQueue], catalog: None
) -> None:
    sqs, gift = aws["sqs"], queues["gift"]
    client = new_account(credits=100_000)
    # Stuck: 7 recipients in two batches (5 + 2); batch 0 reserved its credits and died, batch 1 never ran.
    stuck = _gift_send(client, ["010-6000-0001", "010-6000-0002", "010-1234-0000", "010-6000-0004",
                                "010-6000-0005", "010-6000-0006", "010-6000-0007"])  # fmt: skip
    stuck_jobs = drain_queue(sqs, gift.url)
    first = next(m for m in stuck_jobs if BatchJob.model_validate_json(m["Body"]).batch_no == 0)
    with pytest.raises(SimulatedCrash):
        process_batch(_crash_after("reserved"), BatchJob.model_validate_json(first["Body"]))
    reserved = _store().get_batch(stuck, 0)
    assert reserved is not None and reserved.reservation is not None
    # Settled: finished normally before its job was dead-lettered too (a late duplicate).
    settled = _gift_send(client, ["010-6100-0001", "010-6100-0002"])
    settled_jobs = drain_queue(sqs, gift.url)
    assert _consume_messages(gift, settled_jobs) == 1
    # Cancelled: scheduled, cancelled, and a job for it all the same.
    later = to_rfc3339(utc_now() + timedelta(hours=1))
    cancelled = _gift_send(client, ["010-6200-0001"], send_at=later)
    assert client.post(f"/gift-sends/{cancelled}/cancel").status == 200
    cancelled_job = BatchJob(
        kind=SendKind.GIFT, account_id=client.account_id, send_id=cancelled, batch_no=0, gift_id="SBX-COFFEE"
    )
    settled_before = _send_state(client.account_id, settled, SendKind.GIFT)
    cancelled_before = _send_state(client.account_id, cancelled, SendKind.GIFT)

    bodies = [m["Body"] for m in stuck_jobs + settled_jobs] + [cancelled_job.model_dump_json()]
    _dead_letter(sqs, gift, bodies)
    result = _redrive(sqs, gift)

    assert (result.method, result.found, result.moved, result.not_moved, result.not_deleted) == ("copy", 4, 4, 0, 0)
    assert _waiting(sqs, gift.dead_letter_url) == 0
    assert _consume(sqs, gift) == 4
    recipients = recipients_of(_store(), client.account_id, stuck)
    assert [r.status for r in recipients] == ["SENT", "SENT", "FAILED", "SENT", "SENT", "SENT", "SENT"]
    debits = _debits(client.account_id, stuck)
    assert len(debits) == 2  # one per batch reservation
    assert reserved.reservation.entry_id in {d.entry_id for d in debits}  # batch 0 kept its reservation
    assert all(count == 1 for count in issued_coupons(TABLE, stuck).values())
    assert len(issued_coupons(TABLE, stuck)) == 6
    assert client.get("/account").body["credits"] == 100_000 - 8 * COFFEE  # 6 stuck + 2 settled
    assert_ledger_matches_balance(_store(), client.account_id)
    for send_id in (stuck, settled, cancelled):
        assert_send_consistent(_store(), client.account_id, send_id)
    assert _send_state(client.account_id, settled, SendKind.GIFT) == settled_before
    assert _send_state(client.account_id, cancelled, SendKind.GIFT) == cancelled_before


def test_a_job_redriven_twice_changes_nothing_more(aws: dict[str, Any], queues: dict[QueueName, SendQueue]) -> None:
    sqs, notification = aws["sqs"], queues["notification"]
    client = new_account(credits=100_000)
    assert client.post("/charges", {"channel": "sms", "quantity": 10}).status == 201
    promotion = client.post("/promotions", {"name": "Launch"}).body["promotion_id"]
    reply = client.post(
        "/notification-sends",
        {
            "promotion_id": promotion,
            "channel": "sms",
            "content": "You won",
            "recipients": [{"phone": f"010-6300-{i:04d}"} for i in range(1, 8)],
        },
    )
    assert reply.status == 202, reply.body
    send_id = reply.body["send_id"]
    bodies = [m["Body"] for m in drain_queue(sqs, notification.url)]
    assert len(bodies) == 2

    _dead_letter(sqs, notification, bodies)
    assert _redrive(sqs, notification).moved == 2
    assert _consume(sqs, notification) == 2
    once = _state(client.account_id, send_id, SendKind.NOTIFICATION)
    assert len(_debits(client.account_id, send_id)) == 2
    assert all(r["status"] == "SENT" for r in once[-1])

    # The same jobs dead-lettered and redriven again (e.g. a copy that crashed before its delete).
    _dead_letter(sqs, notification, bodies)
    assert _redrive(sqs, notification).moved == 2
    assert _consume(sqs, notification) == 2
    assert _state(client.account_id, send_id, SendKind.NOTIFICATION) == once
    assert _counts(client) == {"sms": 10 - 7, "lms": 0, "email": 0}
    assert_ledger_matches_balance(_store(), client.account_id)
    assert_send_consistent(_store(), client.account_id, send_id, SendKind.NOTIFICATION)


def _counts(client: ApiClient) -> dict[str, int]:
    return dict(client.get("/account").body["notification_balance"])


def test_dry_run_moves_nothing(aws: dict[str, Any], queues: dict[QueueName, SendQueue]) -> None:
    sqs, gift = aws["sqs"], queues["gift"]
    _dead_letter(sqs, gift, ['{"stale": 1}', '{"stale": 2}', '{"stale": 3}'])

    result = _redrive(sqs, gift, dry_run=True)

    assert (result.method, result.found, result.moved) == ("dry-run", 3, 0)
    assert _waiting(sqs, gift.dead_letter_url) == 3
    assert drain_queue(sqs, gift.url) == []


def _write_stack_env(path: Path, queues: dict[QueueName, SendQueue], **overrides: str) -> Path:
    values: dict[str, str] = {}
    for queue in queues.values():
        url_name, dead_letter_name = redrive.ENV_NAMES[queue.name]
        values |= {url_name: queue.url, dead_letter_name: queue.dead_letter_url}
    path.write_text("".join(f"{k}={v}\n" for k, v in (values | overrides).items()))
    return path


def test_the_command_redrives_every_send_queue_named_in_the_stack_env(
    aws: dict[str, Any],
    queues: dict[QueueName, SendQueue],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sqs = aws["sqs"]
    monkeypatch.setattr(redrive, "RECEIVE_WAIT_SECONDS", 0)  # moto really waits; it has no sampled servers
    _dead_letter(sqs, queues["gift"], ['{"job": "g1"}', '{"job": "g2"}'])
    _dead_letter(sqs, queues["notification"], ['{"job": "n1"}'])
    stack_env = _write_stack_env(tmp_path / "stack.env", queues)

    assert redrive.main(["--stack-env", str(stack_env), "--dry-run"]) == 0
    assert redrive.main(["--stack-env", str(stack_env)]) == 0

    out = capsys.readouterr().out.splitlines()
    assert out == [
        "gift: 2 message(s) in the dead-letter queue (dry run: nothing moved)",
        "notification: 1 message(s) in the dead-letter queue (dry run: nothing moved)",
        "gift: 2 found, 2 moved back (copy)",
        "notification: 1 found, 1 moved back (copy)",
    ]
    assert sorted(m["Body"] for m in drain_queue(sqs, queues["gift"].url)) == ['{"job": "g1"}', '{"job": "g2"}']
    assert [m["Body"] for m in drain_queue(sqs, queues["notification"].url)] == ['{"job": "n1"}']


def test_a_dead_letter_queue_that_is_not_the_source_queues_is_refused(
    aws: dict[str, Any], queues: dict[QueueName, SendQueue], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sqs = aws["sqs"]
    _dead_letter(sqs, queues["notification"], ['{"job": "n1"}'])
    wrong = _write_stack_env(
        tmp_path / "stack.env", queues, GIFT_SEND_DEAD_LETTER_QUEUE_URL=queues["notification"].dead_letter_url
    )

    assert redrive.main(["--stack-env", str(wrong), "--queue", "gift"]) == 1

    assert "gift: FAILED:" in capsys.readouterr().err
    assert _waiting(sqs, queues["notification"].dead_letter_url) == 1  # not moved onto the gift queue
    assert drain_queue(sqs, queues["gift"].url) == []


def test_a_stack_env_without_the_dead_letter_queues_is_an_error(
    aws: dict[str, Any], queues: dict[QueueName, SendQueue], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "stack.env"
    path.write_text(f"GIFT_SEND_QUEUE_URL={queues['gift'].url}\n")

    assert redrive.main(["--stack-env", str(path)]) == 1
    assert "GIFT_SEND_DEAD_LETTER_QUEUE_URL" in capsys.readouterr().err


class _SendsFail:
    """An SQS client whose SendMessageBatch turns down the first entry of each call, or dies once the send is
    done (a crash before the delete)."""

    def __init__(self, sqs: Any, crash_after_send: bool = False) -> None:
        self._sqs = sqs
        self._crash = crash_after_send

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sqs, name)

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        if self._crash:
            self._sqs.send_message_batch(QueueUrl=QueueUrl, Entries=Entries)
            raise SimulatedCrash("after the send")
        first, *rest = Entries
        answer = self._sqs.send_message_batch(QueueUrl=QueueUrl, Entries=rest) if rest else {"Successful": []}
        return {**answer, "Failed": [{"Id": first["Id"], "SenderFault": False, "Code": "InternalError"}]}


def _hidden(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"])


def test_a_job_whose_send_failed_stays_on_the_dead_letter_queue(
    aws: dict[str, Any], queues: dict[QueueName, SendQueue]
) -> None:
    sqs, gift = aws["sqs"], queues["gift"]
    _dead_letter(sqs, gift, ['{"job": 1}', '{"job": 2}', '{"job": 3}'])

    result = _redrive(_SendsFail(sqs), gift)

    assert (result.moved, result.not_moved) == (2, 1)
    assert len(drain_queue(sqs, gift.url)) == 2
    assert (_waiting(sqs, gift.dead_letter_url), _hidden(sqs, gift.dead_letter_url)) == (0, 1)  # back for a rerun


def test_a_crash_between_send_and_delete_duplicates_rather_than_loses(
    aws: dict[str, Any], queues: dict[QueueName, SendQueue]
) -> None:
    sqs, gift = aws["sqs"], queues["gift"]
    _dead_letter(sqs, gift, ['{"job": 1}', '{"job": 2}'])

    with pytest.raises(SimulatedCrash):
        _redrive(_SendsFail(sqs, crash_after_send=True), gift)

    assert len(drain_queue(sqs, gift.url)) == 2
    assert _hidden(sqs, gift.dead_letter_url) == 2  # still there: redriven again by the next run
