"""The sandbox SMS path delivers a batch's messages concurrently: SnsSmsSender's publishes and the sandbox sender's
per-key items are in flight at most ``concurrency`` at a time, and every message keeps its own answer and its own
idempotency key's state (moto DynamoDB for the sandbox's items)."""

from __future__ import annotations

import threading
import time
from typing import Any, cast

import pytest

from shared.adapters.notification_delivery import SnsSmsSender
from shared.adapters.sandbox_notifications import SandboxNotificationSender
from shared.domain.notifications.sender import MessageResult, MessageStatus, NotificationMessage
from tests.integration.conftest import TABLE


class InFlight:
    """Counts calls in progress; each call lasts long enough for the others to overlap it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = 0
        self.most = 0

    def __enter__(self) -> None:
        with self._lock:
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(0.02)

    def __exit__(self, *_: object) -> None:
        with self._lock:
            self.now -= 1


class SlowSns:
    """An SNS client: each publish takes a while; a number ending 1 is throttled, the rest get an id of their own."""

    def __init__(self) -> None:
        self.in_flight = InFlight()
        self.published: list[str] = []

    def publish(self, PhoneNumber: str, Message: str, **_: Any) -> dict[str, str]:
        with self.in_flight:
            self.published.append(PhoneNumber)
            if PhoneNumber.endswith("1"):
                import botocore.exceptions

                raise botocore.exceptions.ClientError(
                    cast(Any, {"Error": {"Code": "Throttled"}, "ResponseMetadata": {"HTTPStatusCode": 429}}),
                    "Publish",
                )
            return {"MessageId": f"sns-{PhoneNumber}-{Message}"}


class SlowDynamoDB:
    """The moto client, each update_item counted in flight."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.in_flight = InFlight()

    def update_item(self, **request: Any) -> Any:
        with self.in_flight:
            return self._client.update_item(**request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def message(n: int) -> NotificationMessage:
    return NotificationMessage(f"nsnd_0193abcdef12aabbccddeeff-0-r{n:05d}-0", "sms", f"+8210555{n:05d}", f"body {n}")


BATCH = [message(n) for n in range(1, 41)]  # 41 is left out; numbers ending 1 are throttled by SlowSns


@pytest.mark.parametrize("concurrency", [1, 4])
def test_sns_publishes_at_most_concurrency_at_once_and_answers_each_message(concurrency: int) -> None:
    sns = SlowSns()
    results = SnsSmsSender(sns, concurrency=concurrency).send_batch("b", BATCH)

    assert sns.in_flight.most == concurrency
    assert sorted(sns.published) == sorted(m.destination for m in BATCH)  # each message once
    assert set(results) == {m.idempotency_key for m in BATCH}
    for m in BATCH:
        if m.destination.endswith("1"):
            assert results[m.idempotency_key] == MessageResult(MessageStatus.RETRY, code="ClientError")
        else:
            assert results[m.idempotency_key] == MessageResult(MessageStatus.ACCEPTED, f"sns-{m.destination}-{m.body}")


def test_the_sandbox_path_is_concurrent_bounded_and_keeps_each_keys_state(aws: dict[str, Any]) -> None:
    sns = SlowSns()
    dynamodb = SlowDynamoDB(aws["dynamodb"])
    sandbox = SandboxNotificationSender(SnsSmsSender(sns, concurrency=3), dynamodb, TABLE, lambda _: None, 3)
    batch = [*BATCH, message(8888)]  # 8888: RETRY on the first two calls of its key

    first = sandbox.send_batch("b", batch)

    assert dynamodb.in_flight.most == 3
    assert sns.in_flight.most == 3
    throttled = {m.idempotency_key for m in BATCH if m.destination.endswith("1")}
    accepted = {m.idempotency_key for m in BATCH} - throttled
    assert {k for k, r in first.items() if r.status is MessageStatus.ACCEPTED} == accepted
    assert {k for k, r in first.items() if r.status is MessageStatus.RETRY} == throttled | {
        message(8888).idempotency_key
    }
    by_key = {m.idempotency_key: m for m in batch}
    for k in accepted:
        assert first[k].provider_message_id == f"sns-{by_key[k].destination}-{by_key[k].body}"
    # Every key counted once, its own count: the 8888 key is at 1, so it fails once more, then goes.
    assert {k: sandbox.calls(k) for k in by_key} == dict.fromkeys(by_key, 1)

    second = sandbox.send_batch("b", batch)

    assert {k: second[k] for k in accepted} == {k: first[k] for k in accepted}  # answered again, not re-sent
    assert sorted(sns.published).count(BATCH[1].destination) == 1
    assert second[message(8888).idempotency_key].status is MessageStatus.RETRY
    assert sandbox.send_batch("b", [message(8888)])[message(8888).idempotency_key].status is MessageStatus.ACCEPTED
