"""Fault injection for account events and webhooks: seeded scenarios on the worlds of reliability/faults.py, each
with webhooks, a foreign account and a path from the outbox to the receivers.

A webhook world is a fault-injection world whose account has two webhooks (one for every event type, one for
some) and a low-balance alert, next to a foreign account with a webhook for every type and an unpublished
balance.low of its own. A scenario processes the send (with one of the send-path faults, or none), then runs the
events consumer (`published_events` + `take_published`) over what the recording publisher put on the bus, the
delivery consumer (`deliver`) over the delivery queue, and, once nothing is left to take, the dispatcher's recovery
(`publish_stale_outbox`, `requeue_due_deliveries`) with the clock moved past every lease and retry delay, until
nothing is pending. Receivers answer 500, time out or refuse the first attempts of some webhooks. Faults of the
webhook part, round-robin over consecutive seeds:

- ``crash_before`` / ``crash_after``: the Lambda dies just before, or just after, one request of the webhook path
  (DynamoDB, the PutEvents and SendMessageBatch stand-ins, the POST itself), round-robin over every boundary;
- ``duplicate``: every event is on the bus twice and every delivery job queued twice (at-least-once delivery).

Checks: every recipient change in the final state (SENT, FAILED, delivered) and every completed send has its
event, with the data of that committed state; an event is published only while its outbox item is stored (no
event without a commit) and the outbox ends empty; every event reached every webhook of its account that asked for
its type with a 2xx, a valid Standard Webhooks signature (`standardwebhooks.Webhook(secret).verify`) and the same
webhook-id and bytes on every attempt; a SUCCEEDED delivery was received; nothing reached another account's
webhook or one that did not ask for the type; one send.completed per completion.

Run:    .venv/bin/python -m reliability.webhook_faults --scenarios 300 [--seed N] [--workers N]
Replay: .venv/bin/python -m reliability.webhook_faults --replay SCENARIO_SEED
"""

from __future__ import annotations

import argparse
import base64
import copy
import json
import os
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from multiprocessing import get_context
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import standardwebhooks.webhooks
from standardwebhooks import Webhook

import shared.domain.clock
from reliability import faults
from reliability.faults import TABLE, Harness, Injector, SimulatedCrash, World
from shared.adapters.events import EventPublisher
from shared.adapters.store import keys
from shared.adapters.webhook_http import PostResult, WebhookPoster
from shared.domain.accounts import accounts
from shared.domain.charges import charges
from shared.domain.clock import utc_now
from shared.domain.events.account_events import kind_name, published_events
from shared.domain.events.alerts import OUTBOX_GRACE, publish_stale_outbox
from shared.domain.views import effective_status, recipient_view, send_view
from shared.domain.webhooks import webhooks
from shared.domain.webhooks.webhook_delivery import (
    ATTEMPT_LEASE,
    DeliveryJob,
    RetrySchedule,
    deliver,
    event_body,
    requeue_due_deliveries,
    take_published,
)
from shared.models.api import CreateWebhookRequest
from shared.models.common import SendKind
from shared.models.items import (
    AccountEvent,
    AlertSettings,
    BatchItem,
    OutboxEvent,
    SendItem,
    WebhookDeliveryItem,
    WebhookItem,
)

WEBHOOK_WORLDS = 24  # the first worlds of reliability/faults.py, both kinds
SCHEDULE = ("crash_before", "crash_after", "duplicate")
SEND_FAULTS = (
    None,
    None,
    "crash_before",
    "crash_after",
    "duplicate",
    "conflict",
    "timeout_lost",
    "timeout_took_effect",
)
RETRY_SCHEDULE = RetrySchedule(delays_seconds=(1, 3, 5), jitter=0.2)  # 4 attempts, seconds apart
# A dispatcher run comes this long after the last: past every lease, retry delay and the outbox's grace.
DISPATCH_STEP = ATTEMPT_LEASE + OUTBOX_GRACE + timedelta(seconds=10)
MAX_DISPATCH_RUNS = 12
ALL_TYPES = ["recipient.sent", "recipient.delivered", "recipient.failed", "send.completed", "balance.low"]
SUBSET = ["recipient.failed", "recipient.delivered", "send.completed"]
FAILURES = ("500", "timeout", "refused")  # how a receiver fails an attempt (timeout: it got the request)


# ---------------------------------------------------------------------------------------------------------------
# The clock, the cipher, the bus, the queue and the receivers
# ---------------------------------------------------------------------------------------------------------------
class _ShiftedDatetime(datetime):
    offset = timedelta()

    @classmethod
    def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
        return datetime.now(tz) + cls.offset


def install_clock() -> None:
    """`utc_now()` everywhere, and the receivers' clock (the library's timestamp tolerance), can move forward."""
    shared.domain.clock.datetime = _ShiftedDatetime  # type: ignore[misc]
    standardwebhooks.webhooks.datetime = _ShiftedDatetime  # type: ignore[misc]


def advance_clock(by: timedelta) -> None:
    _ShiftedDatetime.offset += by


class HarnessCipher:
    """Stands in for KMS: the plaintext with its encryption context; another context does not decrypt."""

    def encrypt(self, plaintext: str, context: dict[str, str]) -> str:
        return base64.b64encode(json.dumps([context, plaintext]).encode()).decode()

    def decrypt(self, ciphertext: str, context: dict[str, str]) -> str:
        stored, plaintext = json.loads(base64.b64decode(ciphertext))
        if stored != context:
            raise ValueError("encryption context mismatch")
        return str(plaintext)


def _boundary(injector: Injector | None, operation: str) -> tuple[Any, Any]:
    model = SimpleNamespace(name=operation)
    return (lambda: injector.before(model=model)) if injector else (lambda: None), (
        (lambda: injector.after(model=model)) if injector else (lambda: None)
    )


@dataclass
class BusMessage:
    detail_type: str
    detail: dict[str, Any]
    time: datetime  # EventBridge's `time`: one per PutEvents entry, the same on every copy of it


class RecordingPublisher:
    """The production EventPublisher over EventBridge's stand-in (a PutEvents boundary) that puts each entry on the
    bus (twice under ``duplicate``) with its `time` (the entry's Time, else the moment of the call); checks that an
    event is published only while its outbox item is stored, i.e. its transaction committed."""

    def __init__(self, scenario: WebhookScenario) -> None:
        self.scenario = scenario
        self.inner = EventPublisher(self, "harness-bus")

    def publish(self, events: Sequence[OutboxEvent]) -> None:
        stored = self.scenario.stored_keys()
        for event in events:
            if keys.outbox(event.account_id, event.event_id) not in stored:
                self.scenario.found.append(f"W3: event {event.event_id} published without its committed outbox item")
        self.inner.publish(events)

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        scenario = self.scenario
        before, after = _boundary(scenario.harness.injector, "PutEvents")
        before()
        for entry in Entries:
            when = entry.get("Time") or utc_now()
            message = BusMessage(entry["DetailType"], json.loads(entry["Detail"]), when.replace(microsecond=0))
            scenario.bus += [message, message] if scenario.duplicate else [message]
            scenario.record_published(message)
        after()
        return {"FailedEntryCount": 0, "Entries": [{"EventId": "x"} for _ in Entries]}


@dataclass
class QueuedJob:
    job: DeliveryJob
    visible_at: datetime


class RecordingQueue:
    """SQS's stand-in for the delivery queue (a SendMessageBatch boundary); delays are kept."""

    def __init__(self, scenario: WebhookScenario) -> None:
        self.scenario = scenario
        self.jobs: list[QueuedJob] = []

    def enqueue_deliveries(self, deliveries: Sequence[WebhookDeliveryItem], delay_seconds: int = 0) -> None:
        before, after = _boundary(self.scenario.harness.injector, "SendMessageBatch")
        before()
        visible = utc_now() + timedelta(seconds=delay_seconds)
        for d in deliveries:
            job = QueuedJob(
                DeliveryJob(account_id=d.account_id, webhook_id=d.webhook_id, delivery_id=d.delivery_id), visible
            )
            self.jobs += [job, job] if self.scenario.duplicate else [job]
        after()


@dataclass
class Receipt:
    webhook: tuple[str, str]  # (account, webhook) whose URL got the request
    message_id: str
    body: str
    answered: int | None  # the status code the receiver answered (None: timed out)


class InProcessPoster(WebhookPoster):
    """The production poster (URL rules, headers, standardwebhooks signature) with the socket replaced by the
    in-process receivers; the POST is a boundary (a crash before it reaches nothing, after it loses the answer)."""

    def __init__(self, scenario: WebhookScenario) -> None:
        super().__init__(production=False, resolver=lambda host, port: ["127.0.0.1"])
        self.scenario = scenario

    def post(self, url: str, secret: str, message_id: str, body: str, now: datetime) -> PostResult:
        before, after = _boundary(self.scenario.harness.injector, "POST")
        before()
        result = super().post(url, secret, message_id, body, now)
        after()
        return result

    def _send(self, target: Any, addresses: Any, headers: dict[str, str], body: bytes) -> PostResult:
        return self.scenario.receive(target.request_target, headers, body.decode())


# ---------------------------------------------------------------------------------------------------------------
# Worlds and scenarios
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class WebhookWorld:
    base: World  # the fault-injection world, its snapshot with the webhooks and the foreign account
    foreign_account: str
    receivers: dict[str, tuple[str, str]]  # a receiver's URL path -> the (account, webhook) it was made for
    secrets: dict[tuple[str, str], str]  # (account, webhook) -> secret, as the create answer showed it
    fail_first: dict[tuple[str, str], tuple[int, str]]  # how many first attempts a receiver fails, and how
    refused: set[tuple[str, str]] = field(default_factory=set)  # (send, rid) FAILED when the send was created
    send_boundaries: int = 0
    transactions: int = 0
    provider_calls: int = 0
    boundaries: list[str] = field(default_factory=list)  # of the webhook part, fault-free


class WebhookScenario:
    """One scenario's moving parts and what it saw."""

    def __init__(self, harness: Harness, world: WebhookWorld, duplicate: bool) -> None:
        self.harness, self.world, self.duplicate = harness, world, duplicate
        self.bus: list[BusMessage] = []
        self.queue = RecordingQueue(self)
        self.publisher = RecordingPublisher(self)
        self.poster = InProcessPoster(self)
        self.found: list[str] = []
        self.published: dict[str, tuple[str, AccountEvent]] = {}  # event id -> (account, event)
        self.bodies: dict[str, set[str]] = defaultdict(set)  # event id -> the bodies made of it
        self.receipts: list[Receipt] = []
        self.tries: Counter[tuple[tuple[str, str], str]] = Counter()

    def stored_keys(self) -> set[tuple[str, str]]:
        return {(i["pk"], i["sk"]) for i in self.items()}

    def items(self) -> list[dict[str, Any]]:
        return [item.to_regular_json() for item in self.harness._tables[TABLE].all_items()]

    def record_published(self, message: BusMessage) -> None:
        published = published_events(message.detail_type, message.detail, message.time)
        if published is None:
            return
        for event in published.events:
            self.published.setdefault(event.event_id, (published.account_id, event))
            self.bodies[event.event_id].add(event_body(event))

    def receive(self, path: str, headers: dict[str, str], body: str) -> PostResult:
        target = self.world.receivers[path]
        webhook_id = target[1]
        try:
            Webhook(self.world.secrets[target]).verify(body, headers)
        except Exception as error:
            self.found.append(f"W5: {webhook_id} got a request whose signature does not verify: {error}")
        message_id = headers["webhook-id"]
        self.tries[target, message_id] += 1
        failing, how = self.world.fail_first.get(target, (0, ""))
        if self.tries[target, message_id] <= failing:
            if how == "refused":
                return PostResult(None, "connection refused")
            answered = 500 if how == "500" else None
            self.receipts.append(Receipt(target, message_id, body, answered))
            return PostResult(answered, "HTTP 500" if answered else "timed out")
        self.receipts.append(Receipt(target, message_id, body, 204))
        return PostResult(204, None)

    # --- the consumers and the dispatcher -------------------------------------------------------------------------

    def run(self, injector: Injector) -> None:
        harness = self.harness
        harness.injector = injector
        try:
            for _ in range(MAX_DISPATCH_RUNS):
                self._drain(injector)
                if not self._outstanding():
                    return
                advance_clock(DISPATCH_STEP)
                self._dispatcher(injector)
            self.found.append("W0: deliveries or outbox items still pending after the dispatcher's last run")
        finally:
            harness.injector = None

    def _drain(self, injector: Injector) -> None:
        store = self.harness.store
        while True:
            if self.bus:
                message = self.bus.pop(0)
                injector.new_job()
                published = published_events(message.detail_type, message.detail, message.time)
                if published is None:
                    continue
                try:
                    take_published(store, self.queue, self.publisher, published)
                except SimulatedCrash:
                    self.bus.append(message)  # not deleted: SQS delivers it again
                continue
            now = utc_now()
            due = next((j for j in self.queue.jobs if j.visible_at <= now), None)
            if due is None:
                return
            self.queue.jobs.remove(due)
            injector.new_job()
            try:
                deliver(store, HarnessCipher(), self.poster, self.queue, due.job, RETRY_SCHEDULE)
            except SimulatedCrash:
                self.queue.jobs.append(QueuedJob(due.job, now + timedelta(seconds=30)))  # the visibility timeout

    def _dispatcher(self, injector: Injector) -> None:
        """The periodic dispatcher's two webhook duties; a run that dies is followed by the next one."""
        store = self.harness.store
        for duty in (
            lambda: publish_stale_outbox(store, self.publisher, utc_now()),
            lambda: requeue_due_deliveries(store, self.queue, utc_now()),
        ):
            injector.new_job()
            for _ in range(2):
                try:
                    duty()
                    break
                except SimulatedCrash:
                    continue

    def _outstanding(self) -> bool:
        for item in self.items():
            if item["sk"].startswith(f"{keys.OUTBOX}#"):
                return True
            if item["sk"].startswith("DELIVERY#") and item.get("status") == "PENDING":
                return True
        return bool(self.bus or self.queue.jobs)

    # --- the checks -----------------------------------------------------------------------------------------------

    def check(self) -> list[str]:
        found = list(self.found)
        items = self.items()
        own = {self.world.base.account_id, self.world.foreign_account}
        hooks = {
            (w.account_id, w.webhook_id): w
            for w in (WebhookItem.model_validate(i) for i in items if i["sk"].startswith(keys.WEBHOOK))
        }
        deliveries = [WebhookDeliveryItem.model_validate(i) for i in items if i["sk"].startswith("DELIVERY#")]
        if any(i["sk"].startswith(f"{keys.OUTBOX}#") for i in items):
            found.append("W3: the outbox is not empty once everything ran")
        by_type: dict[str, list[tuple[str, AccountEvent]]] = defaultdict(list)
        for account_id, event in self.published.values():
            if account_id not in own:
                found.append(f"W2: event {event.event_id} of an unknown account {account_id}")
            by_type[event.type].append((account_id, event))
        found += self._check_state(items, by_type)
        # Every event reached every webhook of its account that asked for it, with a 2xx and the same bytes.
        good = {(r.webhook, r.message_id) for r in self.receipts if r.answered == 204}
        for event_id, (account_id, event) in self.published.items():
            if len(self.bodies[event_id]) > 1:
                found.append(f"W4: event {event_id} ({event.type}) was published with different bodies")
            for (owner, webhook_id), webhook in hooks.items():
                if owner == account_id and event.type in webhook.events and ((owner, webhook_id), event_id) not in good:
                    found.append(
                        f"W1: event {event_id} ({event.type}) never reached its account's webhook {webhook_id}"
                    )
        bodies: dict[tuple[tuple[str, str], str], set[str]] = defaultdict(set)
        for receipt in self.receipts:
            bodies[receipt.webhook, receipt.message_id].add(receipt.body)
            origin = self.published.get(receipt.message_id)
            receiving = hooks.get(receipt.webhook)
            if origin is None:
                found.append(f"W3: {receipt.webhook[1]} got {receipt.message_id}, which was never published")
            elif origin[0] != receipt.webhook[0]:
                found.append(f"W2: event {receipt.message_id} of {origin[0]} reached {receipt.webhook[0]}'s webhook")
            elif receiving is not None and origin[1].type not in receiving.events:
                found.append(f"W2: {receipt.webhook[1]} got a {origin[1].type} it did not ask for")
        found += [f"W4: {w[1]} got {m} with different bodies" for (w, m), b in bodies.items() if len(b) > 1]
        per_event: Counter[tuple[str, str]] = Counter()
        for delivery in deliveries:
            per_event[delivery.webhook_id, delivery.event_id] += 1
            target = (delivery.account_id, delivery.webhook_id)
            if delivery.status == "SUCCEEDED" and (target, delivery.event_id) not in good:
                found.append(f"W1: delivery {delivery.delivery_id} is SUCCEEDED but was never received")
            origin = self.published.get(delivery.event_id)
            if origin is not None and origin[0] != delivery.account_id:
                found.append(f"W2: delivery {delivery.delivery_id} of {origin[0]}'s event under {delivery.account_id}")
        found += [f"W4: event {e} has {n} deliveries for webhook {w}" for (w, e), n in per_event.items() if n > 1]
        return found

    def _check_state(
        self, items: list[dict[str, Any]], by_type: dict[str, list[tuple[str, AccountEvent]]]
    ) -> list[str]:
        """The final state's recipient changes and completions each have their event, with its data."""
        found = []
        datas = {t: [(a, e.data) for a, e in events] for t, events in by_type.items()}
        for row in items:
            if not row["sk"].startswith(tuple(keys.sends(kind) for kind in SendKind)):
                continue
            send = SendItem.model_validate(row)
            account_id = send.account_id
            batch_pk = keys.batch(send.send_id, 0)[0]
            for batch in (BatchItem.model_validate(b) for b in items if b["pk"] == batch_pk):
                for recipient in batch.recipients:
                    if (
                        recipient.status not in ("SENT", "FAILED")
                        or (send.send_id, recipient.rid) in self.world.refused
                    ):
                        continue  # a recipient refused at creation is in the create answer, not an event
                    kind = "recipient.failed" if recipient.status == "FAILED" else "recipient.sent"
                    if recipient.status == "SENT" and recipient.delivered_at is not None:
                        kind = "recipient.delivered"
                    data = {
                        **recipient_view(batch.kind, recipient).model_dump(mode="json"),
                        "send_id": batch.send_id,
                        "kind": kind_name(batch.kind),
                    }
                    if (account_id, data) not in datas.get(kind, []):
                        found.append(
                            f"W1: {send.send_id}/{recipient.rid} is {recipient.status} without its {kind} event"
                        )
            completed = [
                d for a, d in datas.get("send.completed", []) if a == account_id and d["send_id"] == send.send_id
            ]
            seen = [json.dumps(d, sort_keys=True) for d in completed]
            if len(set(seen)) < len(seen):
                found.append(f"W6: {send.send_id} was announced completed twice for one completion")
            if effective_status(send) == "COMPLETED":
                view = {**send_view(send).model_dump(mode="json"), "kind": kind_name(send.kind)}
                if view not in completed:
                    found.append(f"W6: {send.send_id} completed without its send.completed event")
            elif (
                completed
                and send.announced_processed != send.processed
                and not any(d["status"] == "COMPLETED" for d in completed)
            ):
                found.append(f"W6: {send.send_id} announced a completion that is not one")
        return found


class WebhookHarness:
    """The webhook worlds over one process's fault-injection harness."""

    def __init__(self, harness: Harness) -> None:
        self.harness = harness
        self.worlds: dict[int, WebhookWorld] = {}
        self._occurrences: dict[str, list[tuple[WebhookWorld, int]]] = {}
        self._labels: list[str] = []

    def world(self, number: int) -> WebhookWorld:
        if number not in self.worlds:
            self.worlds[number] = self._prepare(number)
        return self.worlds[number]

    def boundary_labels(self) -> list[str]:
        if not self._labels:
            for number in range(WEBHOOK_WORLDS):
                world = self.world(number)
                for index, label in enumerate(world.boundaries):
                    self._occurrences.setdefault(f"{world.base.kind}:{label}", []).append((world, index))
            self._labels = sorted(self._occurrences)
        return self._labels

    def occurrences(self, label: str) -> list[tuple[WebhookWorld, int]]:
        return self._occurrences[label]

    def _prepare(self, number: int) -> WebhookWorld:
        harness, rng = self.harness, random.Random(f"webhooks-{number}")
        base = harness.world(number)
        harness.restore(base)
        store, cipher = harness.store, HarnessCipher()
        account_id = base.account_id
        balance = store.get_balance(account_id)
        counts = {ch: balance.count(ch) for ch in ("sms", "email") if balance.count(ch)}
        store.put_alerts(account_id, AlertSettings(credits_below=balance.credits or None, counts_below=counts))
        foreign = accounts.create_account(store, f"foreign-{number}").account_id
        accounts.top_up_credits(store, foreign, 1_000, f"foreign-{number}")
        store.put_alerts(foreign, AlertSettings(credits_below=900))
        charges.buy_counts(store, None, foreign, "sms", 10, faults.SMS_UNIT)  # its balance.low, left in the outbox
        secrets: dict[tuple[str, str], str] = {}
        fail_first: dict[tuple[str, str], tuple[int, str]] = {}
        receivers: dict[str, tuple[str, str]] = {}
        for n, (owner, events) in enumerate(((account_id, ALL_TYPES), (account_id, SUBSET), (foreign, ALL_TYPES))):
            url = f"http://127.0.0.1:8900/receiver-{n}"
            request = CreateWebhookRequest(url=url, events=events)
            created = webhooks.create_webhook(store, cipher, owner, request, production=False)
            target = (owner, created.webhook_id)
            receivers[f"/receiver-{n}"] = target
            secrets[target] = created.secret
            fail_first[target] = (rng.choice((0, 1, 2)), rng.choice(FAILURES))
        snapshot = copy.deepcopy(harness._tables[TABLE])
        batches = (item.to_regular_json() for item in snapshot.all_items())
        refused = {
            (batch.send_id, r.rid)
            for batch in (BatchItem.model_validate(i) for i in batches if "recipients" in i)
            for r in batch.recipients
            if r.status == "FAILED"
        }
        world = WebhookWorld(
            World(base.kind, account_id, snapshot, base.jobs), foreign, receivers, secrets, fail_first, refused
        )
        send_reference, webhook_reference = Injector(), Injector()
        scenario = self._run(world, send_reference, webhook_reference, duplicate=False)
        world.send_boundaries = len(send_reference.boundaries)
        world.transactions = sum(1 for b in send_reference.boundaries if ":TransactWriteItems#" in b)
        world.provider_calls = harness._provider(base.kind).calls
        world.boundaries = webhook_reference.boundaries
        if found := scenario.check():
            raise AssertionError(f"webhook world {number} breaks a webhook rule without any fault: {found}")
        return world

    def _run(
        self,
        world: WebhookWorld,
        send_injector: Injector,
        injector: Injector,
        duplicate: bool,
        send_duplicate: int | None = None,
    ) -> WebhookScenario:
        _ShiftedDatetime.offset = timedelta()
        scenario = WebhookScenario(self.harness, world, duplicate)
        self.harness.publisher = scenario.publisher
        try:
            self.harness._process(world.base, send_injector, duplicate=send_duplicate)
            injector.new_job()
            scenario.run(injector)
        finally:
            self.harness.publisher = None
            _ShiftedDatetime.offset = timedelta()  # worlds are prepared, and the next scenario starts, at real time
        return scenario


def _run_webhook_scenario(webhooks_harness: WebhookHarness, seed: int) -> tuple[WebhookScenario, str, str | None]:
    """One seeded webhook scenario: (the scenario, its fault kinds, the fault point that fired)."""
    rng = random.Random(seed)
    fault = SCHEDULE[seed % len(SCHEDULE)]
    send_fault: str | None = None
    if fault in faults.CRASHES:
        labels = webhooks_harness.boundary_labels()
        turn = (seed // len(SCHEDULE)) * 2 + (fault == "crash_after")
        world, at = rng.choice(webhooks_harness.occurrences(labels[(turn // 2) % len(labels)]))
    else:
        world = webhooks_harness.world(rng.randrange(WEBHOOK_WORLDS))
        at = -1
        send_fault = rng.choice(SEND_FAULTS)
        if send_fault and send_fault.startswith("timeout") and not world.provider_calls:
            send_fault = "crash_after"
        if send_fault == "conflict" and not world.transactions:
            send_fault = "crash_before"
    limit = {"conflict": world.transactions, "duplicate": len(world.base.jobs)}.get(
        send_fault or "", world.provider_calls if (send_fault or "").startswith("timeout") else world.send_boundaries
    )
    send_at = rng.randrange(limit) if send_fault else -1
    send_injector = Injector(fault=None if send_fault in (None, "duplicate") else send_fault, at=send_at)
    injector = Injector(fault=fault if fault in faults.CRASHES else None, at=at)
    scenario = webhooks_harness._run(
        world,
        send_injector,
        injector,
        duplicate=fault == "duplicate",
        send_duplicate=send_at if send_fault == "duplicate" else None,
    )
    kinds = f"{fault}+send:{send_fault}" if send_fault else fault
    fired = injector.fired or ("duplicate:bus+queue" if fault == "duplicate" else None)
    if fired and fault in faults.CRASHES:
        phase, point = fired.split(":", 1)
        fired = f"{phase}:{world.base.kind}:{point}"
    return scenario, kinds, fired


# ---------------------------------------------------------------------------------------------------------------
# Running many scenarios
# ---------------------------------------------------------------------------------------------------------------
_webhooks: WebhookHarness | None = None


def _worker() -> WebhookHarness:
    global _webhooks
    if _webhooks is None:
        install_clock()
        _webhooks = WebhookHarness(faults._worker_harness())
    return _webhooks


def _run_chunk(seed: int, numbers: range) -> dict[str, Any]:
    webhooks_harness = _worker()
    fired: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    failures: list[dict[str, Any]] = []
    for number in numbers:
        this_seed = faults.scenario_seed(seed, number)
        scenario, kind, point = _run_webhook_scenario(webhooks_harness, this_seed)
        violations = scenario.check()
        kinds[kind.split("+")[0]] += 1
        if point:
            fired[point] += 1
        totals.update(_figures(scenario))
        if violations:
            failures.append({"seed": this_seed, "fault": kind, "point": point, "violations": violations[:10]})
    return {
        "fired": fired,
        "kinds": kinds,
        "totals": totals,
        "failures": failures,
        "universe": set(webhooks_harness.boundary_labels()),
    }


def _figures(scenario: WebhookScenario) -> Counter[str]:
    delivered = Counter((r.webhook, r.message_id) for r in scenario.receipts if r.answered == 204)
    deliveries = sum(1 for i in scenario.items() if i["sk"].startswith("DELIVERY#"))
    foreign = sum(
        1
        for r in scenario.receipts
        if (origin := scenario.published.get(r.message_id)) is not None and origin[0] != r.webhook[0]
    )
    return Counter(
        {
            "events_produced": len(scenario.published),
            "deliveries": deliveries,
            "delivered_at_least_once": len(delivered),
            "attempts": sum(scenario.tries.values()),
            "duplicate_receipts": sum(n - 1 for n in delivered.values()),
            "foreign_receipts": foreign,
        }
    )


# Summed over the scenarios' parts; with the run's own figures, what reliability/verify.py reports.
TOTALS = (
    "events_produced",
    "deliveries",
    "delivered_at_least_once",
    "attempts",
    "duplicate_receipts",
    "foreign_receipts",
)
FIGURES = ("webhook_scenarios", "crash_points", "crash_points_total", "faults_by_kind", *TOTALS, "violations")


def run(scenarios: int, seed: int, workers: int = 1) -> dict[str, Any]:
    started = time.perf_counter()
    chunk = max(1, min(8, -(-scenarios // workers)))  # small chunks: no core waits long for the last one
    chunks = [range(start, min(start + chunk, scenarios)) for start in range(0, scenarios, chunk)]
    if workers > 1:
        with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
            parts = list(pool.map(_run_chunk, [seed] * len(chunks), chunks))
    else:
        parts = [_run_chunk(seed, numbers) for numbers in chunks]
    fired: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    universe: set[str] = set()
    failures: list[dict[str, Any]] = []
    for part in parts:
        fired.update(part["fired"])
        kinds.update(part["kinds"])
        totals.update(part["totals"])
        universe |= part["universe"]
        failures += part["failures"]
    crash_universe = {f"{phase}:{b}" for b in universe for phase in faults.CRASHES}
    crashes_hit = {p for p in fired if p.startswith("crash")}
    return {
        "webhook_scenarios": scenarios,
        "seed": seed,
        "faults_by_kind": dict(sorted(kinds.items())),
        "crash_points": len(crashes_hit & crash_universe),
        "crash_points_total": len(crash_universe),
        "crash_points_missed": sorted(crash_universe - crashes_hit),
        **{name: totals[name] for name in TOTALS},
        "violations": sum(len(f["violations"]) for f in failures),
        "failures": failures[:20],
        "seconds": round(time.perf_counter() - started, 1),
    }


def replay(this_seed: int) -> dict[str, Any]:
    scenario, kind, point = _run_webhook_scenario(_worker(), this_seed)
    return {"seed": this_seed, "fault": kind, "point": point, "violations": scenario.check()}


def main() -> int:
    parser = argparse.ArgumentParser(description="Seeded fault-injection scenarios for account events and webhooks.")
    parser.add_argument("--scenarios", type=int, default=300)
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--replay", type=int, help="run the one scenario with this seed and show its fault")
    parser.add_argument("--output", type=Path, help="also write the result as JSON here")
    options = parser.parse_args()
    if options.replay is not None:
        result = replay(options.replay)
        print(json.dumps(result, indent=2))
        return 1 if result["violations"] else 0
    print(f"webhook faults: seed {options.seed}, {options.scenarios} scenarios, {options.workers} workers", flush=True)
    result = run(options.scenarios, options.seed, options.workers)
    print(json.dumps({k: v for k, v in result.items() if k != "crash_points_missed"}, indent=2))
    if options.output:
        options.output.write_text(json.dumps(result, indent=2))
    return 1 if result["violations"] or result["crash_points_missed"] else 0


if __name__ == "__main__":
    sys.exit(main())
