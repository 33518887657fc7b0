"""Fault injection for the background paths: seeded scenarios run the real domain code against moto and inject,
at a step boundary of the gift or notification path, one fault:

- ``crash_before`` / ``crash_after``: the Lambda dies just before an AWS request, or just after it took effect;
  SQS redelivers the job;
- ``duplicate``: a job that was processed is delivered again (at-least-once delivery);
- ``timeout_took_effect`` / ``timeout_lost``: a provider call times out after (or before) it reached the provider;
- ``conflict``: a DynamoDB transaction is cancelled as if a concurrent writer won.

Each scenario starts from a prepared world (an account, its balance and a send with its queued batch jobs). The
worlds are built once per process and restored from a snapshot of moto's table, so a scenario costs only its own
processing. A fault-free run of each world records its step boundaries (every AWS request, labelled by the domain
step that made it); the scenario picks its fault point among them, so every scenario injects a fault. Crashes
go round-robin over the union of all boundaries (see run_scenario), so a run of a few hundred scenarios already
crashes before and after every one of them; the run reports which crash points were hit. After each scenario
the contract's five invariants are checked (reliability/invariants.py).

Run:    .venv/bin/python -m reliability.faults --scenarios 10000 [--seed N] [--workers N]
Replay: .venv/bin/python -m reliability.faults --replay SCENARIO_SEED
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult
from moto.dynamodb import models as moto_dynamodb
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler

from reliability.invariants import check_invariants, state_from_items, violations
from shared.adapters.gift_provider import SandboxGiftProvider
from shared.adapters.notification_delivery import ChannelRouter, SandboxNotificationSender, SesEmailSender, SnsSmsSender
from shared.adapters.queue import WorkQueue
from shared.adapters.store import DataStore
from shared.domain import accounts, catalog, charges
from shared.domain.batch_processing import BatchWorker, process_batch
from shared.domain.gift_processing import GiftPayment
from shared.domain.gift_sends import create_gift_send
from shared.domain.notification_processing import NotificationPayment
from shared.domain.notification_sends import create_notification_send
from shared.domain.promotions import create_promotion
from shared.domain.sends import BatchJob
from shared.errors import ProviderUnavailable
from shared.models.api import GiftSendRequest, NotificationSendRequest
from shared.models.common import Channel, SendKind
from tests.conftest import table_definition

REGION = "ap-northeast-2"
TABLE = "faults-data"
PRICE = 4_500  # SBX-COFFEE in the sandbox catalog
SMS_UNIT = 20
BATCH_SIZE = 50  # the template's RecipientsPerBatch
SMALL_BATCH_SIZE = 2  # in a quarter of the worlds: several jobs per send, so faults land between batches too
WORLDS = 64  # prepared worlds per process; each scenario picks one by its seed
# Sandbox outcomes by the last four digits: success, not found, always fails, fails twice then succeeds.
PHONES = ["010-{n}-1234", "010-{n}-0000", "010-{n}-9999", "010-{n}-8888", "02-{n}-5678"]
EMAILS = ["w{n}@winners.example", "w{n}@invalid.example", "w{n}@fail.example"]
FAULTS = ("crash_before", "crash_after", "duplicate", "timeout_took_effect", "timeout_lost", "conflict")
SHARED_SOURCE = str(Path(__file__).resolve().parent.parent / "shared")
# The table's generic operations (get, transact, ...) are every step's plumbing: the step is the caller.
TABLE_SOURCE = str(Path(SHARED_SOURCE) / "adapters" / "store" / "table.py")


def _phone(rng: random.Random, position: int) -> str:
    """A winner's number; the first is always a mobile number, so every send queues at least one job."""
    patterns = PHONES if position else [p for p in PHONES if p.startswith("010")]
    return rng.choice(patterns).format(n=f"{1000 + position:04d}")


class SimulatedCrash(BaseException):
    """The Lambda dies here (BaseException: no handler in the product may swallow it)."""


def step_label() -> str:
    """The domain step making the current request: the innermost public function of `shared/` on the stack
    (private helpers such as DataStore._batch_update, and the table's generic operations, say nothing about which
    step it is). A method is named by its object's class (DataStore.commit_settlement, whichever part of the
    store defines it)."""
    frame = sys._getframe(2)
    while frame is not None:
        code = frame.f_code
        if (
            code.co_filename.startswith(SHARED_SOURCE)
            and code.co_filename != TABLE_SOURCE
            and not code.co_name.startswith("_")
        ):
            owner = frame.f_locals.get("self") if code.co_qualname.count(".") == 1 else None
            return (
                f"{type(owner).__name__}.{code.co_name}"
                if owner is not None
                else (code.co_qualname.replace(".<locals>", ""))
            )
        frame = frame.f_back  # type: ignore[assignment]
    return "?"


@dataclass
class Injector:
    """Watches the AWS requests of the background path and fires the scenario's fault at its point.

    `at` counts AWS requests for crashes, transactions for conflicts and provider calls for timeouts. With
    `fault=None` it only records the boundaries (the fault-free reference run)."""

    fault: str | None = None
    at: int = -1
    requests: int = 0
    transactions: int = 0
    fired: str | None = None
    boundaries: list[str] = field(default_factory=list)
    _per_job: Counter[str] = field(default_factory=Counter)

    def new_job(self) -> None:
        self._per_job.clear()

    def _label(self, operation: str) -> str:
        step = f"{step_label()}:{operation}"
        self._per_job[step] += 1
        return f"{step}#{min(self._per_job[step], 3)}"

    def before(self, model: Any, **_: Any) -> None:
        label = self._label(model.name)
        if self.fault is None:
            self.boundaries.append(label)
        if self.fired:
            return
        if self.fault == "crash_before" and self.requests == self.at:
            self.fired = f"crash_before:{label}"
            raise SimulatedCrash(label)
        if self.fault == "conflict" and model.name == "TransactWriteItems":
            if self.transactions == self.at:
                self.fired = f"conflict:{label}"
                raise ClientError(
                    {
                        "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                        "CancellationReasons": [{"Code": "TransactionConflict"}],
                    },
                    model.name,
                )
            self.transactions += 1

    def after(self, model: Any, **_: Any) -> None:
        at_point = self.requests == self.at
        self.requests += 1
        if self.fault == "crash_after" and at_point and not self.fired:
            self.fired = f"crash_after:{self.boundaries_label(model.name)}"
            raise SimulatedCrash(model.name)

    def boundaries_label(self, operation: str) -> str:
        step = f"{step_label()}:{operation}"
        return f"{step}#{min(self._per_job[step], 3)}"


class FaultyProvider:
    """Wraps the sandbox provider: at call `at`, a timeout that did (or did not) reach the provider."""

    def __init__(self, inner: Any, method: str) -> None:
        self.inner, self.method = inner, method
        self.injector = Injector()
        self.calls = 0

    def _call(self, request: Any) -> Any:
        fault, call = self.injector.fault, self.calls
        self.calls += 1
        if fault and fault.startswith("timeout") and not self.injector.fired and call == self.injector.at:
            self.injector.fired = f"{fault}:{self.method}"
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


@dataclass
class World:
    """A prepared starting point: the table snapshot, the account and the send's queued jobs, plus what a
    fault-free run of it looks like."""

    kind: SendKind
    account_id: str
    snapshot: Any
    jobs: list[BatchJob]
    boundaries: list[str] = field(default_factory=list)
    transactions: int = 0
    provider_calls: int = 0


class Harness:
    """One process's moto world: clients, queues and the prepared worlds, built lazily and reused."""

    def __init__(self) -> None:
        self.dynamodb = boto3.client("dynamodb", region_name=REGION)
        self.dynamodb.create_table(**table_definition("DataTable", TABLE))
        sqs = boto3.client("sqs", region_name=REGION)
        self.queues = {
            SendKind.GIFT: WorkQueue(sqs, sqs.create_queue(QueueName="faults-gift")["QueueUrl"]),
            SendKind.NOTIFICATION: WorkQueue(sqs, sqs.create_queue(QueueName="faults-notification")["QueueUrl"]),
        }
        sesv2 = boto3.client("sesv2", region_name=REGION)
        sesv2.create_email_identity(EmailIdentity="win-notifications.example")
        sns = boto3.client("sns", region_name=REGION)
        self.store = DataStore(self.dynamodb, TABLE)
        self.gift_provider = FaultyProvider(SandboxGiftProvider(self.dynamodb, TABLE), "issue")
        router = ChannelRouter(sms=SnsSmsSender(sns), email=SesEmailSender(sesv2, "no-reply@win-notifications.example"))
        self.sender = FaultyProvider(SandboxNotificationSender(router, self.dynamodb, TABLE), "send")
        self.injector: Injector | None = None  # set while a world's jobs are processed
        for client in (self.dynamodb, sns, sesv2):
            client.meta.events.register("before-call", self._before)
            client.meta.events.register("after-call", self._after)
        self.worlds: dict[int, World] = {}
        self._occurrences: dict[str, list[tuple[World, int]]] = {}
        self._labels: list[str] = []

    def _before(self, **kwargs: Any) -> None:
        if self.injector:
            self.injector.before(**kwargs)

    def _after(self, **kwargs: Any) -> None:
        if self.injector:
            self.injector.after(**kwargs)

    @property
    def _tables(self) -> dict[str, Any]:
        return dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables

    def restore(self, world: World) -> None:
        self._tables[TABLE] = copy.deepcopy(world.snapshot)

    def check(self, world: World) -> list[str]:
        """The invariants over the world's account, read straight from moto's table (the product's own reads
        are checked by check_invariants in the model-based test; here they would double a scenario's cost)."""
        try:
            items = [item.to_regular_json() for item in self._tables[TABLE].all_items()]
            return violations(state_from_items(items, world.account_id))
        except ValueError as error:  # a stored item no longer validates (e.g. a negative balance)
            return [f"unreadable state: {error}"]

    def world(self, number: int) -> World:
        if number not in self.worlds:
            self.worlds[number] = self._prepare(number)
        return self.worlds[number]

    def boundary_labels(self) -> list[str]:
        """Every step boundary of every world, in a fixed order (all worlds are prepared for it, once)."""
        if not self._labels:
            for number in range(WORLDS):
                world = self.world(number)
                for index, label in enumerate(world.boundaries):
                    self._occurrences.setdefault(f"{world.kind}:{label}", []).append((world, index))
            self._labels = sorted(self._occurrences)
        return self._labels

    def occurrences(self, label: str) -> list[tuple[World, int]]:
        """The (world, request index) pairs where a boundary comes up in a fault-free run."""
        return self._occurrences[label]

    def _prepare(self, number: int) -> World:
        """Builds world `number` (deterministic in its number) and records its fault-free run."""
        rng = random.Random(number)
        self.dynamodb.delete_table(TableName=TABLE)
        self.dynamodb.create_table(**table_definition("DataTable", TABLE))
        catalog.sync_catalog(self.store, SandboxGiftProvider(self.dynamodb, TABLE))
        kind = (SendKind.GIFT, SendKind.NOTIFICATION)[number % 2]
        size = rng.randint(1, 5)
        batch_size = SMALL_BATCH_SIZE if rng.random() < 0.25 else BATCH_SIZE
        account = accounts.create_account(self.store, f"world-{number}")
        self.store.set_gift_approval(account.account_id, True)
        promotion = create_promotion(self.store, account.account_id, "promotion").promotion_id
        if kind == SendKind.GIFT:
            # Credits for some of the gifts, sometimes all: the rest fail INSUFFICIENT_CREDITS.
            credits = PRICE * rng.randint(0, size) + rng.randint(0, PRICE - 1)
            accounts.top_up_credits(self.store, account.account_id, credits, f"world-{number}")
            phones = [_phone(rng, i) for i in range(size)]
            request = GiftSendRequest(
                promotion_id=promotion,
                gift_id="SBX-COFFEE",
                title="t",
                content="c",
                recipients=[{"phone": p} for p in phones],
            )
            create_gift_send(self.store, self.queues[kind], account.account_id, request, batch_size)
        else:
            accounts.top_up_credits(self.store, account.account_id, SMS_UNIT * 2 * size, f"world-{number}")
            channel: Channel = rng.choice(("sms", "email"))
            charges.buy_counts(self.store, None, account.account_id, channel, rng.randint(1, size), SMS_UNIT)
            if rng.random() < 0.5:  # a second, newer charge: counts are taken oldest charge first
                charges.buy_counts(self.store, None, account.account_id, channel, 1, SMS_UNIT)
            if channel == "sms":
                recipients = [{"phone": _phone(rng, i)} for i in range(size)]
            else:
                recipients = [{"email": rng.choice(EMAILS).format(n=i)} for i in range(size)]
            note = NotificationSendRequest(
                promotion_id=promotion,
                channel=channel,
                content="hi",
                title="You won" if channel == "email" else None,
                recipients=recipients,
            )
            create_notification_send(self.store, self.queues[kind], account.account_id, note, batch_size)
        world = World(kind, account.account_id, copy.deepcopy(self._tables[TABLE]), self._take_jobs(kind))
        reference = Injector()
        self._process(world, reference, duplicate=None)
        world.boundaries = reference.boundaries
        world.transactions = sum(1 for b in reference.boundaries if ":TransactWriteItems#" in b)
        world.provider_calls = self._provider(kind).calls
        if found := check_invariants(self.store, world.account_id) + self.check(world):
            raise AssertionError(f"world {number} breaks an invariant without any fault: {found}")
        return world

    def _take_jobs(self, kind: SendKind) -> list[BatchJob]:
        queue = self.queues[kind]
        sqs, url = queue._client, queue._url
        jobs: list[BatchJob] = []
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            for message in messages:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                jobs.append(BatchJob.model_validate_json(message["Body"]))
        return sorted(jobs, key=lambda job: job.batch_no)

    def _provider(self, kind: SendKind) -> FaultyProvider:
        return self.gift_provider if kind == SendKind.GIFT else self.sender

    def _process(self, world: World, injector: Injector, duplicate: int | None) -> None:
        """Runs every job of the world's send as the SQS consumer would: redelivered after a crash, and job
        `duplicate` delivered once more after it succeeded."""
        self.restore(world)
        provider = self._provider(world.kind)
        provider.injector, provider.calls = injector, 0
        self.injector = injector
        payment = GiftPayment(provider) if world.kind == SendKind.GIFT else NotificationPayment(provider)
        worker = BatchWorker(store=self.store, payment=payment, retry_base_seconds=0, concurrency=1)
        try:
            for index, job in enumerate(world.jobs):
                deliveries = 2 if index == duplicate else 1
                while deliveries:
                    injector.new_job()
                    try:
                        process_batch(worker, job)
                    except SimulatedCrash:
                        continue  # the message was not deleted: SQS delivers it again
                    deliveries -= 1
        finally:
            self.injector = None


def run_scenario(harness: Harness, scenario_seed: int) -> tuple[list[str], str, str | None]:
    """One seeded scenario: (invariant violations, fault kind, the fault point that fired).

    The fault kind, and for a crash its step boundary, go round-robin over consecutive seeds, so any run of
    len(FAULTS) x (number of boundaries) scenarios crashes at every boundary, before and after the request;
    the world that has the boundary and everything else is drawn from the seed."""
    rng = random.Random(scenario_seed)
    fault = FAULTS[scenario_seed % len(FAULTS)]
    if fault.startswith("crash"):
        labels = harness.boundary_labels()
        world, at = rng.choice(harness.occurrences(labels[(scenario_seed // len(FAULTS)) % len(labels)]))
    else:
        world = harness.world(rng.randrange(WORLDS))
        if fault.startswith("timeout") and not world.provider_calls:
            fault = "crash_after"  # nothing reaches the provider in this world (e.g. no credits for anyone)
        if fault == "conflict" and not world.transactions:
            fault = "crash_before"
        limit = {"conflict": world.transactions, "duplicate": len(world.jobs)}.get(
            fault, world.provider_calls if fault.startswith("timeout") else len(world.boundaries)
        )
        at = rng.randrange(limit)
    injector = Injector(fault=None if fault == "duplicate" else fault, at=at)
    harness._process(world, injector, duplicate=at if fault == "duplicate" else None)
    fired = f"duplicate:job#{at}" if fault == "duplicate" else injector.fired
    if fired:  # "crash_before:GIFT:DataStore.commit_reservation:TransactWriteItems#1"
        phase, point = fired.split(":", 1)
        fired = f"{phase}:{world.kind}:{point}"
    return harness.check(world), fault, fired


# ---------------------------------------------------------------------------------------------------------------
# moto, made cheaper for many scenarios
# ---------------------------------------------------------------------------------------------------------------
class _TableKeepingCopy:
    """Stands in for the `copy` module inside moto's DynamoDB backend: tables are not copied (everything else is).
    moto backs up every table a transaction touches by deep-copying it, which costs more than the rest of a
    scenario; `_transact_with_item_rollback` backs up only the items the transaction writes instead."""

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


_moto_transact = DynamoDBBackend.transact_write_items


def _transact_with_item_rollback(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """moto's TransactWriteItems, all or nothing as before, rolling back only the items it wrote."""
    backups = []
    for entry in transact_items:
        operation = next(iter(entry.values()))
        table = self.get_table(operation["TableName"])
        key = operation.get("Key") or {
            name: operation["Item"][name] for name in (table.hash_key_attr, table.range_key_attr) if name
        }
        current = table.get_item(*self.get_keys_value(table, key))
        backups.append((table, key, copy.deepcopy(current.to_json()["Attributes"]) if current else None))
    try:
        _moto_transact(self, transact_items)
    except Exception:  # a cancelled transaction (or a malformed one moto refused part-way): undo its writes
        for table, key, attributes in reversed(backups):
            if attributes is None:
                table.delete_item(*self.get_keys_value(table, key))
            else:
                table.put_item(attributes)
        raise


# Data-plane answers are already DynamoDB JSON (strings, numbers as strings, lists, maps); moto's generic
# shape-driven serializer re-walks every attribute of them, which dominates a read of a 50-recipient batch.
_PLAIN_JSON_ACTIONS = frozenset(
    {
        "GetItem",
        "BatchGetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "TransactWriteItems",
        "BatchWriteItem",
    }
)
_moto_serialized = DynamoHandler.serialized


def _serialized_as_plain_json(self: DynamoHandler, action_result: ActionResult) -> Any:
    if self._get_action() in _PLAIN_JSON_ACTIONS and isinstance(action_result.result, dict):
        headers = {**self.response_headers, "Content-Type": "application/x-amz-json-1.0"}
        return 200, headers, json.dumps(action_result.result)
    return _moto_serialized(self, action_result)


def make_moto_cheaper() -> None:
    """Same answers, less work: item-level rollback for transactions and plain JSON for data-plane answers."""
    moto_dynamodb.copy = _TableKeepingCopy  # type: ignore[assignment]
    DynamoDBBackend.transact_write_items = _transact_with_item_rollback  # type: ignore[method-assign]
    DynamoHandler.serialized = _serialized_as_plain_json  # type: ignore[method-assign,assignment]


# ---------------------------------------------------------------------------------------------------------------
# Running many scenarios, in parallel processes
# ---------------------------------------------------------------------------------------------------------------
_harness: Harness | None = None


def _worker_harness() -> Harness:
    global _harness
    if _harness is None:
        os.environ.update(
            {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "faults", "AWS_SECRET_ACCESS_KEY": "faults"}
        )
        os.environ.pop("AWS_ENDPOINT_URL", None)
        mock_aws().start()
        make_moto_cheaper()
        _harness = Harness()
    return _harness


def scenario_seed(seed: int, number: int) -> int:
    return seed * 1_000_003 + number


def _run_chunk(seed: int, numbers: range) -> dict[str, Any]:
    harness = _worker_harness()
    fired: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    failures: list[dict[str, Any]] = []
    for number in numbers:
        this_seed = scenario_seed(seed, number)
        violations, fault, point = run_scenario(harness, this_seed)
        kinds[fault] += 1
        if point:
            fired[point] += 1
        if violations:
            failures.append({"seed": this_seed, "fault": fault, "point": point, "violations": violations})
    universe = set(harness.boundary_labels())
    return {"fired": fired, "kinds": kinds, "failures": failures, "universe": universe}


def run(scenarios: int, seed: int, workers: int = 1) -> dict[str, Any]:
    """Runs `scenarios` seeded scenarios on `workers` processes and sums up what was injected and found."""
    started = time.perf_counter()
    chunk = max(50, scenarios // (workers * 8) or 1)
    chunks = [range(start, min(start + chunk, scenarios)) for start in range(0, scenarios, chunk)]
    if workers > 1:
        with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
            parts = list(pool.map(_run_chunk, [seed] * len(chunks), chunks))
    else:
        parts = [_run_chunk(seed, numbers) for numbers in chunks]
    fired: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    universe: set[str] = set()
    failures: list[dict[str, Any]] = []
    for part in parts:
        fired.update(part["fired"])
        kinds.update(part["kinds"])
        universe |= part["universe"]
        failures += part["failures"]
    # A crash point: a step boundary (before or after one AWS request of one domain step) of either path.
    crash_universe = {f"{phase}:{b}" for b in universe for phase in ("crash_before", "crash_after")}
    crashes_hit = {p for p in fired if p.startswith("crash")}
    return {
        "scenarios_run": scenarios,
        "seed": seed,
        "workers": workers,
        "faults_fired": sum(fired.values()),
        "faults_by_kind": dict(sorted(kinds.items())),
        "crash_points": len(crashes_hit & crash_universe),
        "crash_points_total": len(crash_universe),
        "crash_points_missed": sorted(crash_universe - crashes_hit),
        "fault_points": len(fired),
        "invariant_violations": sum(len(f["violations"]) for f in failures),
        "failures": failures[:20],
        "seconds": round(time.perf_counter() - started, 1),
    }


def replay(this_seed: int) -> dict[str, Any]:
    harness = _worker_harness()
    violations, fault, point = run_scenario(harness, this_seed)
    return {"seed": this_seed, "fault": fault, "point": point, "violations": violations}


def main() -> int:
    parser = argparse.ArgumentParser(description="Seeded fault-injection scenarios against the domain code.")
    parser.add_argument("--scenarios", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--replay", type=int, help="run the one scenario with this seed and show its fault")
    parser.add_argument("--output", type=Path, help="also write the result as JSON here")
    options = parser.parse_args()
    if options.replay is not None:
        result = replay(options.replay)
        print(json.dumps(result, indent=2))
        return 1 if result["violations"] else 0
    print(f"fault injection: seed {options.seed}, {options.scenarios} scenarios, {options.workers} workers", flush=True)
    result = run(options.scenarios, options.seed, options.workers)
    print(json.dumps({k: v for k, v in result.items() if k != "crash_points_missed"}, indent=2))
    if options.output:
        options.output.write_text(json.dumps(result, indent=2))
    return 1 if result["invariant_violations"] or result["crash_points_missed"] else 0


if __name__ == "__main__":
    sys.exit(main())
