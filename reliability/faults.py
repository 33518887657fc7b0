"""Fault injection for the background paths: seeded scenarios run the real domain code against moto and
inject, at a chosen step boundary, a crash (the Lambda dies before or after an AWS request took effect),
a duplicate delivery, a provider timeout that did or did not take effect, or a DynamoDB transaction
conflict. After each scenario the contract's five invariants are checked.

Run: .venv/bin/python -m reliability.faults --scenarios 10000 [--seed N] [--replay SEED]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws

from shared.adapters.dynamo import DataStore
from shared.adapters.gift_provider import SandboxGiftProvider
from shared.adapters.notification_delivery import ChannelRouter, SandboxNotificationSender, SesEmailSender, SnsSmsSender
from shared.adapters.queue import WorkQueue
from shared.domain import accounts, catalog, charges
from shared.domain.gift_processing import GiftProcessing, process_gift_batch
from shared.domain.gift_sends import create_gift_send
from shared.domain.notification_processing import NotificationProcessing, process_notification_batch
from shared.domain.notification_sends import create_notification_send
from shared.domain.sends import BatchJob, recipients_page
from shared.errors import ProviderUnavailable
from shared.models.api import GiftSendRequest, NotificationSendRequest
from tests.conftest import table_definition

TABLE = "faults-data"
PRICE = 4_500
PHONES = ["010-{n}-1234", "010-{n}-0000", "010-{n}-9999", "010-{n}-8888", "02-{n}-5678"]
FAULTS = ("crash_before", "crash_after", "duplicate", "timeout_took_effect", "timeout_lost", "conflict")
SCENARIOS_PER_WORLD = 500


class SimulatedCrash(BaseException):
    """The Lambda dies here (BaseException: no handler in the product may swallow it)."""


@dataclass
class Injector:
    """Counts AWS requests of the background path and fires the scenario's fault at request `at`."""

    fault: str
    at: int
    seen: int = 0
    fired: bool = False
    points: Counter[str] = field(default_factory=Counter)

    def _due(self, operation: str, phase: str) -> bool:
        if self.fired or self.seen != self.at:
            return False
        self.fired = True
        self.points[f"{self.fault}:{operation}#{self.at}:{phase}"] += 1
        return True

    def before(self, model: Any, **_: Any) -> None:
        operation = model.name
        if self.fault == "crash_before" and self._due(operation, "before"):
            raise SimulatedCrash(operation)
        if self.fault == "conflict" and operation == "TransactWriteItems" and self._due(operation, "before"):
            raise ClientError({"Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                               "CancellationReasons": [{"Code": "TransactionConflict"}]}, operation)

    def after(self, model: Any, **_: Any) -> None:
        operation = model.name
        try:
            if self.fault == "crash_after" and self._due(operation, "after"):
                raise SimulatedCrash(operation)
        finally:
            self.seen += 1


class FaultyProvider:
    """Wraps a provider: at call `at`, a timeout that did (or did not) reach the provider."""

    def __init__(self, inner: Any, injector: Injector, method: str) -> None:
        self.inner, self.injector, self.method, self.calls = inner, injector, method, 0

    def _call(self, request: Any) -> Any:
        self.calls += 1
        fault = self.injector.fault
        if fault.startswith("timeout") and not self.injector.fired and self.calls == self.injector.at + 1:
            self.injector.fired = True
            self.injector.points[f"{fault}:provider#{self.calls}"] += 1
            if fault == "timeout_took_effect":
                getattr(self.inner, self.method)(request)
            raise ProviderUnavailable("timeout")
        return getattr(self.inner, self.method)(request)

    def issue(self, request: Any) -> Any:
        return self._call(request)

    def send(self, message: Any) -> Any:
        return self._call(message)

    def catalog(self) -> list[Any]:
        return list(self.inner.catalog())


def _fresh_table(store: DataStore) -> None:
    """moto copies every table for each transaction (its rollback): each scenario starts on an empty one."""
    client = store._client
    client.delete_table(TableName=TABLE)
    client.create_table(**table_definition("DataTable", TABLE))
    catalog.sync_catalog(store, SandboxGiftProvider(client, TABLE))


def _world() -> tuple[DataStore, WorkQueue, WorkQueue]:
    client = boto3.client("dynamodb")
    client.create_table(**table_definition("DataTable", TABLE))
    sqs = boto3.client("sqs")
    gift_queue = WorkQueue(sqs, sqs.create_queue(QueueName="faults-gift")["QueueUrl"])
    notification_queue = WorkQueue(sqs, sqs.create_queue(QueueName="faults-notification")["QueueUrl"])
    boto3.client("sesv2").create_email_identity(EmailIdentity="win-notifications.example")
    store = DataStore(client, TABLE)
    catalog.sync_catalog(store, SandboxGiftProvider(client, TABLE))
    return store, gift_queue, notification_queue


def _jobs(queue: WorkQueue) -> list[BatchJob]:
    sqs, url = queue._client, queue._url
    jobs: list[BatchJob] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return jobs
        for message in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            jobs.append(BatchJob.model_validate_json(message["Body"]))


def run_scenario(seed: int, world: tuple[DataStore, WorkQueue, WorkQueue]) -> tuple[list[str], Injector]:
    """One seeded scenario; returns the invariant violations found (empty when all hold)."""
    rng = random.Random(seed)
    store, gift_queue, notification_queue = world
    _fresh_table(store)
    kind = rng.choice(("GIFT", "NOTIFICATION"))
    size = rng.randint(1, 7)
    phones = [rng.choice(PHONES).format(n=f"{1000 + i:04d}") for i in range(size)]
    account = accounts.create_account(store, f"s{seed}")
    store.set_gift_approval(account.account_id, True)
    credits = PRICE * rng.randint(0, size) + rng.randint(0, PRICE - 1) + 20 * size
    accounts.top_up_credits(store, account.account_id, credits, f"seed-{seed}")
    if kind == "NOTIFICATION":
        charges.buy_counts(store, None, account.account_id, "sms", rng.randint(1, size), 20)
    from shared.domain.promotions import create_promotion

    promotion = create_promotion(store, account.account_id, "p").promotion_id
    if kind == "GIFT":
        request = GiftSendRequest(promotion_id=promotion, gift_id="SBX-COFFEE", title="t", content="c",
                                  recipients=[{"phone": p} for p in phones])
        create_gift_send(store, gift_queue, account.account_id, request, 4)
        jobs = _jobs(gift_queue)
    else:
        note = NotificationSendRequest(promotion_id=promotion, channel="sms", content="hi",
                                       recipients=[{"phone": p} for p in phones])
        create_notification_send(store, notification_queue, account.account_id, note, 4)
        jobs = _jobs(notification_queue)

    injector = Injector(rng.choice(FAULTS), rng.randint(0, 8))
    client = store._client
    if kind == "GIFT":
        provider = FaultyProvider(SandboxGiftProvider(client, TABLE), injector, "issue")
        worker: Any = GiftProcessing(store=store, provider=provider, retry_base_seconds=0, concurrency=1)
        process: Any = process_gift_batch
    else:
        sender = SandboxNotificationSender(
            ChannelRouter(sms=SnsSmsSender(boto3.client("sns")),
                          email=SesEmailSender(boto3.client("sesv2"), "no-reply@win-notifications.example")),
            client, TABLE)
        worker = NotificationProcessing(store=store, sender=FaultyProvider(sender, injector, "send"),
                                        retry_base_seconds=0, concurrency=1)
        process = process_notification_batch

    events = client.meta.events
    events.register("before-call.dynamodb.*", injector.before)
    events.register("after-call.dynamodb.*", injector.after)
    try:
        for job in jobs:
            for _delivery in range(5):  # SQS redelivers after a crash
                try:
                    process(worker, job)
                    break
                except SimulatedCrash:
                    continue
            if injector.fault == "duplicate":
                process(worker, job)  # at-least-once: the same message again
    finally:
        events.unregister("before-call.dynamodb.*", injector.before)
        events.unregister("after-call.dynamodb.*", injector.after)
    if injector.fault == "duplicate":
        injector.points[f"duplicate:job#{len(jobs)}"] += 1
    return check_invariants(store, account.account_id, kind), injector


def check_invariants(store: DataStore, account_id: str, kind: str) -> list[str]:
    violations: list[str] = []
    balance = store.get_balance(account_id)
    entries = list(store.all_ledger_entries(account_id))
    if balance.credits < 0 or min(balance.sms, balance.lms, balance.email) < 0:
        violations.append("1: a balance went below zero")
    if sum(e.credits_delta for e in entries) != balance.credits:
        violations.append("2: ledger credits do not sum to the balance")
    for channel in ("sms", "lms", "email"):
        if sum(e.notification_count or 0 for e in entries if e.notification_channel == channel) != getattr(
                balance, channel):
            violations.append(f"2: ledger {channel} counts do not sum to the balance")
    page = store.list_sends(account_id, kind, None, 10, None)
    for send in page.items:
        recipients, _ = recipients_page(store, send, None, 10_000, None)
        if any(r.status == "PENDING" for r in recipients):
            violations.append("4: a recipient was left pending with no work queued")
        sent = [r for r in recipients if r.status == "SENT"]
        if kind == "GIFT":
            debits = sum(e.quantity for e in entries if e.type == "GIFT_DEBIT")
            refunds = sum(e.quantity for e in entries if e.type == "GIFT_REFUND")
            if debits - refunds != len(sent):
                violations.append("3: gift charges do not match issued gifts")
            coupons = [r.coupon_id for r in sent]
            if len(set(coupons)) != len(coupons) or not all(coupons):
                violations.append("3: a gifticon was issued twice or is missing")
        else:
            used = -sum(e.notification_count or 0 for e in entries if e.type.startswith("NOTIFICATION"))
            if used != len(sent):
                violations.append("3: counts used do not match messages sent")
        if any(r.charged for r in recipients if r.reason == "INVALID_RECIPIENT"):
            violations.append("5: an invalid recipient was charged")
    return violations


def run(scenarios: int, seed: int) -> dict[str, Any]:
    os.environ.update({"AWS_DEFAULT_REGION": "ap-northeast-2", "AWS_ACCESS_KEY_ID": "faults",
                       "AWS_SECRET_ACCESS_KEY": "faults"})
    os.environ.pop("AWS_ENDPOINT_URL", None)
    points: Counter[str] = Counter()
    failures: list[dict[str, Any]] = []
    started = time.perf_counter()
    for start in range(0, scenarios, SCENARIOS_PER_WORLD):
        with mock_aws():
            world = _world()
            for number in range(start, min(start + SCENARIOS_PER_WORLD, scenarios)):
                scenario_seed = seed * 1_000_003 + number
                violations, injector = run_scenario(scenario_seed, world)
                points.update(injector.points)
                if violations:
                    failures.append({"seed": scenario_seed, "fault": injector.fault, "violations": violations})
    return {
        "scenarios_run": scenarios,
        "crash_points": len([p for p in points if p.startswith("crash")]),
        "fault_points": len(points),
        "faults_by_kind": dict(Counter(p.split(":")[0] for p in points.elements())),
        "invariant_violations": sum(len(f["violations"]) for f in failures),
        "failures": failures[:20],
        "seed": seed,
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description="Seeded fault-injection scenarios against the domain code.")
    parser.add_argument("--scenarios", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    parser.add_argument("--replay", type=int, help="run the one scenario with this seed and show its faults")
    options = parser.parse_args()
    if options.replay is not None:
        with mock_aws():
            violations, injector = run_scenario(options.replay, _world())
        print(json.dumps({"seed": options.replay, "fault": injector.fault, "points": dict(injector.points),
                          "violations": violations}, indent=2))
        return 1 if violations else 0
    print(f"fault injection: seed {options.seed}, {options.scenarios} scenarios")
    result = run(options.scenarios, options.seed)
    print(json.dumps(result, indent=2))
    return 1 if result["invariant_violations"] else 0


if __name__ == "__main__":
    sys.exit(main())
