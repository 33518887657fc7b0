"""Fault injection for the background paths: seeded scenarios run the real domain code against moto and inject,
at a step boundary of the gift or notification path, one fault:

- ``crash_before`` / ``crash_after``: the Lambda dies just before an AWS request, or just after it took effect;
  SQS redelivers the job;
- ``duplicate``: a job that was processed is delivered again (at-least-once delivery);
- ``timeout_took_effect`` / ``timeout_lost``: a provider call times out after (or before) it reached the provider;
- ``conflict``: a DynamoDB transaction is cancelled as if a concurrent writer won;
- ``partial_batch``: a bulk notification call partly succeeds: some of its messages come back RETRY, either never
  handed to the provider or taken by it with the answer lost;
- ``report_early``: delivery reports are applied while their batch is still being sent (ReportNotReady: they stay
  queued and are applied later);
- ``report_replayed``: every report is delivered twice, in a shuffled order, next to a contradictory one for the
  same attempt (DELIVERED against RECIPIENT_NOT_FOUND or UNDELIVERED, earlier or later);
- ``report_crash``: the Lambda dies inside the store's commit_report, just before or just after the write; the
  report is delivered again;
- ``report_race``: reports are held back until the automatic retry of another recipient of their batch is under
  way, then applied while its reservation is in flight (after the reservation, or after the provider call), or
  between a report's read of the batch and its write (the retry's whole settlement wins first).

A notification world runs its send's jobs, takes the delivery reports (the sandbox's SMS reports through the
report source, its SES-shaped email events from an in-harness bus) and applies them, runs the retry job for the
provider errors with their jobs, and applies the new round's reports together with the earlier round's once more.

Each scenario starts from a prepared world (an account, its balance and a send with its queued batch jobs). The
worlds are built once per process and restored from a snapshot of moto's table, so a scenario costs only its own
processing. A fault-free run of each world records its step boundaries (every AWS request, labelled by the domain
step that made it); the scenario picks its fault point among them, so every scenario injects a fault. Crashes
go round-robin over the union of all boundaries (see run_scenario), so a run of a few hundred scenarios already
crashes before and after every one of them; the run reports which crash points were hit. After each scenario
the contract's invariants are checked (reliability/invariants.py), and so is the history the harness saw: a report
changed a recipient at most once (never a delivery time or a final failure already there), and no message was
delivered twice except after a crash between the provider's acceptance and the sandbox's record of it (SNS
takes no idempotency key; counted apart as ``repeated_deliveries_after_crash``).

Run:    .venv/bin/python -m reliability.faults --scenarios 10000 [--seed N] [--workers N]
Replay: .venv/bin/python -m reliability.faults --replay SCENARIO_SEED
"""

from __future__ import annotations

import argparse
import base64
import copy
import functools
import json
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core import responses as moto_responses
from moto.core.responses import ActionResult
from moto.core.utils import method_names_from_class as _moto_method_names
from moto.dynamodb import models as moto_dynamodb
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.table import Table
from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node  # type: ignore[attr-defined]
from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]
from moto.dynamodb.parsing.validators import (
    ActionCountValidator,
    OverlappingPathsValidator,
    UpdateHashRangeKeyValidator,
    Validator,
)
from moto.dynamodb.responses import DynamoHandler

from reliability.invariants import check_invariants, state_from_items, violations
from shared.adapters.gift_provider import SandboxGiftProvider
from shared.adapters.notification_delivery import ChannelRouter, SnsSmsSender
from shared.adapters.queue import WorkQueue
from shared.adapters.sandbox_notifications import SandboxNotificationSender, SandboxReportSource
from shared.adapters.store import DataStore
from shared.domain.accounts import accounts
from shared.domain.attempts import RecipientAttempt
from shared.domain.charges import charges
from shared.domain.clock import utc_now
from shared.domain.gifts import catalog
from shared.domain.gifts.gift_processing import GiftPayment
from shared.domain.gifts.gift_sends import create_gift_send
from shared.domain.jobs import BatchJob
from shared.domain.notifications.notification_processing import NotificationPayment
from shared.domain.notifications.notification_sends import create_notification_send
from shared.domain.notifications.sender import MessageResult, MessageStatus, NotificationMessage, NotificationSender
from shared.domain.promotions.promotions import create_promotion
from shared.domain.reports.delivery_reports import ReportNotReady, RetryPolicy, apply_reports
from shared.domain.sends import send_actions
from shared.domain.sends.batch_processing import BatchWorker, process_batch
from shared.errors import ProviderUnavailable
from shared.models.api import GiftSendRequest, NotificationSendRequest
from shared.models.common import Channel, SendKind
from shared.models.items import BatchItem, RecipientState
from shared.models.reports import DeliveryReport, ReportOutcome
from tests.conftest import table_definition

REGION = "ap-northeast-2"
TABLE = "faults-data"
PRICE = 4_500  # SBX-COFFEE in the sandbox catalog
SMS_UNIT = 20
BATCH_SIZE = 50  # the template's RecipientsPerBatch
SMALL_BATCH_SIZE = 2  # in a quarter of the worlds: several jobs per send, so faults land between batches too
CHUNK = 40  # scenarios per task of the worker pool
WORLDS = 64  # prepared worlds per process; each scenario picks one by its seed
# Sandbox outcomes by the last four digits: success, not found, always fails, fails twice then succeeds,
# accepted then reported unknown, accepted then reported undelivered.
PHONES = ["010-{n}-1234", "010-{n}-0000", "010-{n}-9999", "010-{n}-8888", "010-{n}-7777", "010-{n}-6666", "02-{n}-5678"]
EMAILS = ["w{n}@winners.example", "w{n}@invalid.example", "w{n}@fail.example", "w{n}@bounce.example"]
CRASHES = ("crash_before", "crash_after")
FAULTS = (
    *CRASHES,
    "duplicate",
    "timeout_took_effect",
    "timeout_lost",
    "conflict",
    "partial_batch",
    "report_early",
    "report_replayed",
    "report_crash",
    "report_race",
)
# Faults only a notification world has (its bulk provider calls, its delivery reports).
# Crashes take a larger share, so a bounded run still crashes at every step boundary.
SCHEDULE = (*FAULTS, *CRASHES, *CRASHES)
NOTIFICATION_FAULTS = frozenset({"partial_batch", "report_early", "report_replayed", "report_crash", "report_race"})
RACE_POINTS = ("reserved", "issued", "read_then_settled")
AUTO_RETRY_ROUNDS = 3
RETRY_POLICY = RetryPolicy(rounds=AUTO_RETRY_ROUNDS, base_seconds=60)
RETRY_JOB_LATER = timedelta(days=1)  # when the retry job runs: every provider error's backoff has passed
RETRY_JOB_NEXT_RUN = timedelta(minutes=3)  # a later run, past the grace a resent batch gets to be queued
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
    variant: str = ""  # how a partial_batch, report_crash or report_race fault plays out
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
    """Wraps the sandbox provider. At call `at`: a timeout that did (or did not) reach the provider, for the whole
    call; for the bulk notification call also a call that partly succeeded (``partial_batch``), or, right after the
    provider took the call, the delivery reports applied before the batch is settled (``report_early``)."""

    def __init__(self, inner: Any, method: str) -> None:
        self.inner, self.method = inner, method
        self.injector = Injector()
        self.calls = 0
        self.after_call: Callable[[dict[str, MessageResult]], None] | None = None

    def _call(self, call: Callable[[], Any]) -> Any:
        fault, number = self.injector.fault, self.calls
        self.calls += 1
        if fault and fault.startswith("timeout") and not self.injector.fired and number == self.injector.at:
            self.injector.fired = f"{fault}:{self.method}"
            if fault == "timeout_took_effect":
                call()
            raise ProviderUnavailable("timeout")
        return call()

    def issue(self, request: Any) -> Any:
        return self._call(lambda: self.inner.issue(request))

    def send_batch(self, batch_key: str, messages: Sequence[NotificationMessage]) -> dict[str, MessageResult]:
        injector, number = self.injector, self.calls
        due = not injector.fired and number == injector.at
        if due and injector.fault == "partial_batch":
            self.calls += 1
            injector.fired = f"partial_batch:{injector.variant}:send_batch"
            answered = [m.idempotency_key for m in messages[: len(messages) // 2]]
            # "unsent": the provider took only the first half; "answer_lost": it took all, half the answers were lost.
            taken = messages[: len(answered)] if injector.variant == "unsent" else messages
            took: dict[str, MessageResult] = self.inner.send_batch(batch_key, taken) if taken else {}
            retry = MessageResult(MessageStatus.RETRY, code="PARTIAL")
            return {
                m.idempotency_key: took[m.idempotency_key] if m.idempotency_key in answered else retry for m in messages
            }
        results: dict[str, MessageResult] = self._call(lambda: self.inner.send_batch(batch_key, messages))
        if due and injector.fault == "report_early" and self.after_call is not None:
            injector.fired = "report_early:send_batch"
            self.after_call(results)
        return results

    def catalog(self) -> list[Any]:
        return list(self.inner.catalog())


class AcceptingEmailSender:
    """SES SendBulkEmail's stand-in (moto's sesv2 has no SendBulkEmail): accepts every message of the batch."""

    def send_batch(self, batch_key: str, messages: Sequence[NotificationMessage]) -> dict[str, MessageResult]:
        return {m.idempotency_key: MessageResult(MessageStatus.ACCEPTED, f"ses-{m.idempotency_key}") for m in messages}


class CountingSender:
    """Counts the messages handed to the real sender, by idempotency key: a key handed over twice is a message the
    winner got twice."""

    def __init__(self, inner: NotificationSender) -> None:
        self.inner = inner
        self.deliveries: Counter[str] = Counter()

    def send_batch(self, batch_key: str, messages: Sequence[NotificationMessage]) -> dict[str, MessageResult]:
        self.deliveries.update(m.idempotency_key for m in messages)
        return self.inner.send_batch(batch_key, messages)


class ReportStoreProbe:
    """The store as apply_reports sees it. Records every report write that landed, so the harness sees a recipient
    changed twice or a settled one overwritten; crashes inside commit_report (``report_crash``); and can let a
    concurrent writer in between a report's read of its batch and its write (``on_read``)."""

    def __init__(self, store: DataStore, harness: Harness) -> None:
        self.store, self.harness = store, harness
        self.commits = 0
        self.crash = ""  # "before" / "after" the write, at commit number crash_at
        self.crash_at = -1
        self.on_read: Callable[[], None] | None = None

    def get_batch(self, send_id: str, batch_no: int) -> BatchItem | None:
        batch = self.store.get_batch(send_id, batch_no)
        if self.on_read is not None:
            hook, self.on_read = self.on_read, None
            hook()
        return batch

    def get_balance(self, account_id: str) -> Any:
        return self.store.get_balance(account_id)

    def has_webhooks(self, account_id: str) -> bool:
        return self.store.has_webhooks(account_id)

    def delete_outbox(self, events: Sequence[Any]) -> None:
        self.store.delete_outbox(events)

    def stale_outbox(self, older_than: datetime, limit: int = 100) -> list[Any]:
        return self.store.stale_outbox(older_than, limit)

    def commit_report(self, batch: BatchItem, settlement: Any, refund: Any) -> None:
        number = self.commits
        self.commits += 1
        injector = self.harness.injector
        crash = self.crash if number == self.crash_at and injector and not injector.fired else ""
        if crash == "before":
            injector.fired = "report_crash:before:DataStore.commit_report"  # type: ignore[union-attr]
            raise SimulatedCrash("commit_report")
        try:
            self.store.commit_report(batch, settlement, refund)
        except SimulatedCrash:
            if injector and (injector.fired or "").startswith("crash_after"):
                self.harness.report_landed(batch, settlement.recipients)
            raise
        self.harness.report_landed(batch, settlement.recipients)
        if crash == "after":
            injector.fired = "report_crash:after:DataStore.commit_report"  # type: ignore[union-attr]
            raise SimulatedCrash("commit_report")


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
    reports: int = 0  # delivery reports applied
    report_commits: int = 0  # report writes (commit_report calls)
    retry_jobs: int = 0  # batch jobs the retry job queued


def _attempt(batch: BatchItem, recipient: RecipientState) -> str:
    return RecipientAttempt(batch.send_id, batch.batch_no, recipient.rid, recipient.round).key


def _settled_view(recipient: RecipientState) -> tuple[Any, ...]:
    return recipient.status, recipient.reason, recipient.delivered_at


class Harness:
    """One process's moto world: clients, queues and the prepared worlds, built lazily and reused."""

    def __init__(self) -> None:
        # botocore's check of every request against the API model is left to the unit tests: here the same few
        # request shapes go out thousands of times.
        config = Config(parameter_validation=False)
        self.dynamodb = boto3.client("dynamodb", region_name=REGION, config=config)
        self.dynamodb.create_table(**table_definition("DataTable", TABLE))
        sqs = boto3.client("sqs", region_name=REGION, config=config)
        self.queues = {
            SendKind.GIFT: WorkQueue(sqs, sqs.create_queue(QueueName="faults-gift")["QueueUrl"]),
            SendKind.NOTIFICATION: WorkQueue(sqs, sqs.create_queue(QueueName="faults-notification")["QueueUrl"]),
        }
        sns = boto3.client("sns", region_name=REGION, config=config)
        self.store = DataStore(self.dynamodb, TABLE)
        self.gift_provider = FaultyProvider(SandboxGiftProvider(self.dynamodb, TABLE), "issue")
        self.sms = CountingSender(SnsSmsSender(sns, concurrency=1))
        self.email = CountingSender(AcceptingEmailSender())
        # One request at a time (as the SNS sender above): a crash point is then one named step, the same in every
        # run; concurrent per-message writes are independent of each other, so no interleaving is lost.
        sandbox = SandboxNotificationSender(
            ChannelRouter(sms=self.sms, email=self.email), self.dynamodb, TABLE, self._email_events, concurrency=1
        )
        self.sender = FaultyProvider(sandbox, "send_batch")
        self.sender.after_call = self._reports_too_early
        self.report_source = SandboxReportSource(self.dynamodb, TABLE)
        self.report_store = ReportStoreProbe(self.store, self)
        self.injector: Injector | None = None  # set while a world's jobs are processed
        self.publisher: Any = None  # the batch consumer's event publisher (the webhook scenarios record one)
        for client in (self.dynamodb, sns):
            client.meta.events.register("before-call", self._before)
            client.meta.events.register("after-call", self._after)
        self.worlds: dict[int, World] = {}
        self._occurrences: dict[str, list[tuple[World, int]]] = {}
        self._labels: list[str] = []
        self._new_scenario(None, random.Random(0))

    def _new_scenario(self, injector: Injector | None, rng: random.Random) -> None:
        self.rng = rng
        self.found: list[str] = []  # what the harness itself saw go wrong (the history the state does not keep)
        self.reports: list[list[DeliveryReport]] = []  # the report queue: one list per message
        self.applied: list[list[DeliveryReport]] = []  # messages applied so far (replayed after the resend)
        self.reports_applied = 0
        self.changed: Counter[str] = Counter()  # attempt key -> report writes that changed its recipient
        self.in_retry = False
        self.current_job: BatchJob | None = None
        self.repeated_after_crash = 0
        self.retry_jobs = 0
        self.report_store.commits = 0
        self.report_store.crash = injector.variant if injector and injector.fault == "report_crash" else ""
        self.report_store.crash_at = injector.at if injector and self.report_store.crash else -1
        self.report_store.on_read = None
        self.sms.deliveries.clear()
        self.email.deliveries.clear()

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
        are checked by check_invariants in the model-based test; here they would double a scenario's cost), and
        what the harness saw happen on the way."""
        try:
            items = [item.to_regular_json() for item in self._tables[TABLE].all_items()]
            return violations(state_from_items(items, world.account_id)) + self.found
        except ValueError as error:  # a stored item no longer validates (e.g. a negative balance)
            return [f"unreadable state: {error}", *self.found]

    # --- delivery reports ---------------------------------------------------------------------------------------

    def _email_events(self, events: Sequence[tuple[str, str, ReportOutcome, datetime]]) -> None:
        """The sandbox's SES-shaped events, one queue message each (EventBridge -> SQS), read as SES's parser would."""
        for key, _, outcome, when in events:
            self.reports.append([DeliveryReport(attempt=key, outcome=outcome, occurred_at=when, provider="ses")])

    def _publish(self, reports: Sequence[DeliveryReport]) -> None:
        self.reports.append(list(reports))

    def report_landed(self, batch: BatchItem, recipients: list[RecipientState]) -> None:
        """A report write landed: every recipient it changed was SENT and undelivered, and changes only once."""
        for old, new in zip(batch.recipients, recipients, strict=True):
            if _settled_view(old) == _settled_view(new):
                continue
            key = _attempt(batch, old)
            self.changed[key] += 1
            if old.status != "SENT" or old.delivered_at is not None:
                self.found.append(f"8: a report overwrote the settled recipient {key}")
            if self.changed[key] > 1:
                self.found.append(f"8: reports changed the recipient {key} more than once")

    def _apply_queued(self, now: Callable[[DeliveryReport], bool] = lambda report: True) -> None:
        """The report poller runs, then the report consumer takes every queued message (the reports `now` picks;
        the rest wait); a message whose recipient is not settled yet stays queued, and one the consumer died on is
        delivered again."""
        while True:
            try:
                self.report_source.poll(utc_now() + RETRY_JOB_LATER, self._publish)
                break
            except SimulatedCrash:
                continue  # the poller runs again a minute later: what it had published comes once more
        messages = [part for m in self.reports if (part := [r for r in m if now(r)])]
        self.reports = [part for m in self.reports if (part := [r for r in m if not now(r)])]
        if self.injector and self.injector.fault == "report_replayed" and messages:
            self.injector.fired = "report_replayed:apply_reports"
            messages = self._replayed(messages)
        for message in messages:
            while True:
                try:
                    apply_reports(self.report_store, message, RETRY_POLICY)
                    self.applied.append(message)
                    self.reports_applied += len(message)
                except SimulatedCrash:
                    continue
                except ReportNotReady:
                    self.reports.append(message)
                break

    def _replayed(self, messages: list[list[DeliveryReport]]) -> list[list[DeliveryReport]]:
        """Every message twice, shuffled, and for about half the reports a contradictory one for the same attempt."""
        outcomes: tuple[ReportOutcome, ...] = ("DELIVERED", "RECIPIENT_NOT_FOUND", "UNDELIVERED")
        replayed = [m for message in messages for m in (message, message)]
        for message in messages:
            for report in message:
                if self.rng.random() < 0.5:
                    other = self.rng.choice([o for o in outcomes if o != report.outcome])
                    when = report.occurred_at + timedelta(seconds=self.rng.choice((-1, 1)))
                    replayed.append([report.model_copy(update={"outcome": other, "occurred_at": when})])
        self.rng.shuffle(replayed)
        return replayed

    def _reports_too_early(self, results: dict[str, MessageResult]) -> None:
        """report_early: right after the provider took the call, before the batch is settled."""
        self._apply_queued()
        accepted = {key for key, result in results.items() if result.status is MessageStatus.ACCEPTED}
        waiting = {report.attempt for message in self.reports for report in message}
        if accepted and not accepted & waiting:
            self.found.append("8: a report was applied before its recipient was settled")

    def _checkpoint(self, step: str) -> None:
        """report_race at "reserved" / "issued": the reports come while the retry's reservation is in flight."""
        injector = self.injector
        if not (injector and injector.fault == "report_race" and self.in_retry and not injector.fired):
            return
        if injector.variant != step or self.current_job is None:
            return
        injector.fired = f"report_race:{step}"
        job = self.current_job
        reservation = self._batch(job).reservation
        self._apply_queued()
        after = self._batch(job).reservation
        if reservation is not None and (after is None or after.entry_id != reservation.entry_id):
            self.found.append(f"9: a report's write dropped the reservation of batch {job.batch_no}")

    def _batch(self, job: BatchJob) -> BatchItem:
        batch = self.store.get_batch(job.send_id, job.batch_no)
        assert batch is not None
        return batch

    # --- worlds -------------------------------------------------------------------------------------------------

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
        world.reports, world.report_commits = self.reports_applied, self.report_store.commits
        world.retry_jobs = self.retry_jobs if kind == SendKind.NOTIFICATION else 0
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

    def _process(
        self, world: World, injector: Injector, duplicate: int | None, rng: random.Random | None = None
    ) -> None:
        """Runs every job of the world's send as the SQS consumer would: redelivered after a crash, and job
        `duplicate` delivered once more after it succeeded. A notification world then goes on with its delivery
        reports, the retry job and the next round's reports (see the module docstring)."""
        self.restore(world)
        self._new_scenario(injector, rng or random.Random(0))
        provider = self._provider(world.kind)
        provider.injector, provider.calls = injector, 0
        self.injector = injector
        payment = GiftPayment(provider) if world.kind == SendKind.GIFT else NotificationPayment(provider)
        worker = BatchWorker(
            store=self.store,
            payment=payment,
            retry_base_seconds=0,
            concurrency=1,
            auto_retry_rounds=AUTO_RETRY_ROUNDS,
            checkpoint=self._checkpoint,
            publisher=self.publisher,
        )
        try:
            self._run_jobs(worker, injector, world.jobs, duplicate)
            if world.kind == SendKind.NOTIFICATION:
                self._reports_and_retry(worker, injector)
                repeated = sum(n - 1 for d in (self.sms, self.email) for n in d.deliveries.values() if n > 1)
                if repeated and injector.fault in CRASHES:
                    self.repeated_after_crash = repeated  # SNS takes no idempotency key (see the module docstring)
                elif repeated:
                    self.found.append(f"3: {repeated} message(s) handed to the provider twice")
        finally:
            self.injector = None

    def _run_jobs(self, worker: BatchWorker, injector: Injector, jobs: list[BatchJob], duplicate: int | None) -> None:
        for index, job in enumerate(jobs):
            deliveries = 2 if index == duplicate else 1
            while deliveries:
                injector.new_job()
                self.current_job = job
                try:
                    process_batch(worker, job)
                except SimulatedCrash:
                    continue  # the message was not deleted: SQS delivers it again
                deliveries -= 1
        self.current_job = None

    def _reports_and_retry(self, worker: BatchWorker, injector: Injector) -> None:
        race = injector.variant if injector.fault == "report_race" else ""
        if race:
            # A race holds the first round's reports back until the retry is under way, all but the undelivered
            # ones: those make the provider errors the retry job picks up.
            self._apply_queued(lambda report: report.outcome == "UNDELIVERED")
        else:
            self._apply_queued()
        first_round = list(self.applied)
        # The retry job runs every minute: a run that dies (e.g. between putting recipients back to PENDING and
        # queueing their job) is followed by the next, which finds the batch again once its grace has passed.
        at = utc_now() + RETRY_JOB_LATER
        for _ in range(3):
            try:
                send_actions.retry_provider_errors(self.store, self.queues, at, AUTO_RETRY_ROUNDS)
                break
            except SimulatedCrash:
                at += RETRY_JOB_NEXT_RUN
        jobs = self._take_jobs(SendKind.NOTIFICATION)
        self.retry_jobs = len(jobs)
        self.in_retry = True
        if race == "read_then_settled" and jobs:
            # The retry's whole batch settles between a report's read of its batch and the report's write.
            def settle_first() -> None:
                injector.fired = "report_race:read_then_settled"
                self._run_jobs(worker, injector, jobs, None)

            self.report_store.on_read = settle_first
            self._apply_queued()
            if self.report_store.on_read is not None:  # no report to race with
                self.report_store.on_read = None
                self._run_jobs(worker, injector, jobs, None)
        else:
            self._run_jobs(worker, injector, jobs, None)
        self.in_retry = False
        # The new round's reports, and the earlier round's once more: about an attempt that is no longer current.
        self.reports.extend(first_round)
        self._apply_queued()


def _crash_turn(scenario_seed: int) -> int:
    """How many scenarios of the same crash kind came before this one (crashes take 6 of every 15 seeds)."""
    cycle, slot = divmod(scenario_seed, len(SCHEDULE))
    same = [n for n, kind in enumerate(SCHEDULE) if kind == SCHEDULE[slot]]
    return cycle * len(same) + same.index(slot)


def run_scenario(harness: Harness, scenario_seed: int) -> tuple[list[str], str, str | None]:
    """One seeded scenario: (invariant violations, fault kind, the fault point that fired).

    The fault kind goes round-robin over consecutive seeds (SCHEDULE), and for a crash so does its step boundary,
    so any run of 15 x (number of boundaries) / 3 scenarios crashes at every boundary, before and after the
    request; the world that has the boundary and everything else is drawn from the seed."""
    rng = random.Random(scenario_seed)
    fault = SCHEDULE[scenario_seed % len(SCHEDULE)]
    variant = ""
    if fault in CRASHES:
        labels = harness.boundary_labels()
        world, at = rng.choice(harness.occurrences(labels[_crash_turn(scenario_seed) % len(labels)]))
    else:
        if fault in NOTIFICATION_FAULTS:
            world = harness.world(2 * rng.randrange(WORLDS // 2) + 1)
        else:
            world = harness.world(rng.randrange(WORLDS))
        if fault in ("partial_batch", "report_early") and not world.provider_calls:
            fault = "report_replayed"
        if (fault == "report_crash" and not world.report_commits) or (fault == "report_race" and not world.retry_jobs):
            fault = "report_replayed"
        if fault == "report_replayed" and not world.reports:
            fault = "duplicate"
        if fault.startswith("timeout") and not world.provider_calls:
            fault = "crash_after"  # nothing reaches the provider in this world (e.g. no credits for anyone)
        if fault == "conflict" and not world.transactions:
            fault = "crash_before"
        calls = world.provider_calls if fault.startswith(("timeout", "partial", "report")) else 0
        limit = {
            "conflict": world.transactions,
            "duplicate": len(world.jobs),
            "report_crash": world.report_commits,
            "report_replayed": 1,
            "report_race": 1,
        }.get(fault, calls or len(world.boundaries))
        at = rng.randrange(limit)
        choices = {
            "partial_batch": ("unsent", "answer_lost"),
            "report_crash": ("before", "after"),
            "report_race": RACE_POINTS,
        }.get(fault)
        variant = rng.choice(choices) if choices else ""
    injector = Injector(fault=None if fault == "duplicate" else fault, at=at, variant=variant)
    harness._process(world, injector, duplicate=at if fault == "duplicate" else None, rng=rng)
    if fault == "report_race" and not injector.fired:  # no report was left to race with the retry: replay them
        fault, injector = "report_replayed", Injector(fault="report_replayed", at=0)
        harness._process(world, injector, duplicate=None, rng=rng)
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


def _binary_as_base64(value: Any) -> str:
    if isinstance(value, bytes):  # a B attribute (a packed batch): base64 on the wire
        return base64.b64encode(value).decode()
    raise TypeError(f"not DynamoDB JSON: {type(value).__name__}")


def _serialized_as_plain_json(self: DynamoHandler, action_result: ActionResult) -> Any:
    if self._get_action() in _PLAIN_JSON_ACTIONS and isinstance(action_result.result, dict):
        headers = {**self.response_headers, "Content-Type": "application/x-amz-json-1.0"}
        return 200, headers, json.dumps(action_result.result, default=_binary_as_base64)
    return _moto_serialized(self, action_result)


# The product sends a handful of distinct update expressions, thousands of times each. moto tokenises and parses
# every one of them twice per request (its request handler, then its backend), and its validator runs, besides
# the processors that resolve and evaluate the expression against the item, three that check the expression alone
# (action counts, overlapping paths, key attributes): their verdict depends only on the expression, its names and
# the table's keys. A parsed expression is kept (the validator works on a deep copy of it), and the three checks
# run once per (expression, names, keys); an expression they refuse is never remembered, so it is refused again.
_moto_parse = UpdateExpressionParser.make.__func__
_PARSED: dict[tuple[type, str], Node] = {}
_PARSED_IDS: set[int] = set()
_EXPRESSION_ONLY_CHECKS = (ActionCountValidator, OverlappingPathsValidator, UpdateHashRangeKeyValidator)
_CHECKED: set[tuple[Any, ...]] = set()


def _parse_once(cls: type, expression: str) -> Node:
    parsed = _PARSED.get((cls, expression))
    if parsed is None:
        parsed = _PARSED[(cls, expression)] = _moto_parse(cls, expression)
        _PARSED_IDS.add(id(parsed))
    return parsed


_IMMUTABLE = (str, int, float, bool, type(None))


def _clone(node: Node, parent: Node | None = None) -> Node:
    """A fresh copy of a parsed expression's tree (what moto's deepcopy of it gives, without deepcopy's memo):
    its nodes hold their class name, their parent and their children (nodes, or plain names and numbers)."""
    copied = object.__new__(type(node))
    copied.__dict__ = {**node.__dict__, "parent": parent}
    if node.children is not None:
        copied.children = [
            _clone(child, copied)
            if isinstance(child, Node)
            else child
            if isinstance(child, _IMMUTABLE)
            else copy.deepcopy(child)
            for child in node.children
        ]
    return copied


def _validator_init(
    self: Validator,
    expression: Node,
    expression_attribute_names: dict[str, str],
    expression_attribute_values: dict[str, dict[str, Any]],
    item: Any,
    table: Table,
) -> None:
    """moto's Validator.__init__, with a kept expression cloned instead of deep-copied."""
    self.expression_attribute_names = expression_attribute_names
    self.expression_attribute_values = expression_attribute_values
    self.item = item
    self.table = table
    self.processors = self.get_ast_processors()
    self.node_to_validate = _clone(expression) if id(expression) in _PARSED_IDS else copy.deepcopy(expression)
    self.checked_key = (  # type: ignore[attr-defined]
        (id(expression), tuple(sorted((self.expression_attribute_names or {}).items())), *self.table.table_key_attrs)
        if id(expression) in _PARSED_IDS
        else None
    )


def _validate_checking_once(self: Validator) -> Node:
    key = self.checked_key  # type: ignore[attr-defined]
    checked = key is not None and key in _CHECKED
    node = self.node_to_validate
    for processor in self.processors:
        if not (checked and isinstance(processor, _EXPRESSION_ONLY_CHECKS)):
            node = processor.traverse(node)
    if key is not None:
        _CHECKED.add(key)
    return node


# moto's tree walk asks isinstance() of an abstract class (ABCMeta: slow) at every node, and builds each processor's
# map of node classes to handlers two or three times per node; the same walk with both answers kept per class.
_IS_NODE: dict[type, bool] = {}
_HANDLED_AS: dict[tuple[type, type], type | None] = {}


def _traverse(self: DepthFirstTraverser, node: Any, child_id: int = -1) -> Any:
    kind = type(node)
    is_node = _IS_NODE.get(kind)
    if is_node is None:
        is_node = _IS_NODE[kind] = issubclass(kind, Node)
    if not is_node:
        return node
    parent_node = node.parent
    if node.children is not None:
        for i, child_node in enumerate(node.children):
            self.pre_processing_of_child(node, i)
            self.traverse_node_recursively(child_node, i)
    key = (type(self), kind)
    if key not in _HANDLED_AS:
        _HANDLED_AS[key] = next((k for k in self._processing_map() if issubclass(kind, k)), None)
    handled_as = _HANDLED_AS[key]
    if handled_as is not None:
        node = self._processing_map()[handled_as](node)
        node.parent = parent_node
        if parent_node:
            parent_node.children[child_id] = node
    return node


@functools.cache
def _method_names(clazz: type) -> list[str]:
    """moto's dispatcher lists a handler class's methods (inspect.getmembers) on every request."""
    return _moto_method_names(clazz)


def make_moto_cheaper() -> None:
    """Same answers, less work: item-level rollback for transactions, plain JSON for data-plane answers, update
    expressions parsed and checked once, moto's tree walk and method lookup without repeated introspection."""
    moto_dynamodb.copy = _TableKeepingCopy  # type: ignore[assignment]
    DynamoDBBackend.transact_write_items = _transact_with_item_rollback  # type: ignore[method-assign]
    DynamoHandler.serialized = _serialized_as_plain_json  # type: ignore[method-assign,assignment]
    UpdateExpressionParser.make = classmethod(_parse_once)
    Validator.__init__ = _validator_init  # type: ignore[method-assign]
    Validator.validate = _validate_checking_once  # type: ignore[method-assign]
    DepthFirstTraverser.traverse_node_recursively = _traverse
    moto_responses.method_names_from_class = _method_names


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
    repeated = reports = 0
    for number in numbers:
        this_seed = scenario_seed(seed, number)
        violations, fault, point = run_scenario(harness, this_seed)
        repeated += harness.repeated_after_crash
        reports += harness.reports_applied
        kinds[fault] += 1
        if point:
            fired[point] += 1
        if violations:
            failures.append({"seed": this_seed, "fault": fault, "point": point, "violations": violations})
    universe = set(harness.boundary_labels())
    return {
        "fired": fired,
        "kinds": kinds,
        "failures": failures,
        "universe": universe,
        "repeated": repeated,
        "reports": reports,
    }


def run(scenarios: int, seed: int, workers: int = 1) -> dict[str, Any]:
    """Runs `scenarios` seeded scenarios on `workers` processes and sums up what was injected and found."""
    started = time.perf_counter()
    # Small chunks, handed to whichever worker is free: no core waits long for the last one (the worlds are built
    # once per process, so a chunk costs only its scenarios).
    chunk = max(1, min(CHUNK, -(-scenarios // workers)))
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
    repeated = reports = 0
    for part in parts:
        fired.update(part["fired"])
        kinds.update(part["kinds"])
        universe |= part["universe"]
        failures += part["failures"]
        repeated += part["repeated"]
        reports += part["reports"]
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
        "reports_applied": reports,
        "repeated_deliveries_after_crash": repeated,
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
