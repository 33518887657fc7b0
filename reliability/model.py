"""Model-based test of the whole domain: a hypothesis state machine drives the real domain code (shared/domain,
shared/adapters) against moto, on a virtual clock, and checks the contract's invariants
(reliability/invariants.py) plus the model's own expectations after every step.

Steps: delivery reports (the sandbox's own, from its report source and SES-shaped events; made-up delivered,
invalid-recipient and undelivered reports about a recipient's current attempt, each with its expected effect; and
duplicates of applied reports, as they were or contradicting themselves, which change nothing; no report changes a
recipient twice or moves a delivery time), top-ups (some leaving credits short), buying and refunding counts, gift
and notification sends (now, draft, scheduled) to the sandbox's outcome addresses with duplicates and invalid
numbers, processing queued batch jobs (also with a crash at the Nth DynamoDB request, the job then staying queued as
SQS would redeliver it, and duplicate deliveries of processed jobs), resends (bulk and single), submit, cancel, the
dispatcher, the retry job, time passing and catalog changes.

The checks read the account's state straight from moto's memory (reliability.invariants.state_from_items) and apply
the same `violations` that check_invariants applies to the product's own reads; every eighth example ends by
comparing the two reads. The model's own expectations come on top: each send's stored status, each recipient's
outcome against the sandbox's table, every batch that still owes work having a job queued, and once nothing is
queued, credits and counts equal to what the model paid in, bought, refunded and had delivered.

Run: .venv/bin/python -m reliability.model --examples 200 --steps 20 [--seed N]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import boto3
from hypothesis import HealthCheck, settings
from hypothesis import seed as use_seed
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    MultipleResults,
    RuleBasedStateMachine,
    get_state_machine_test,
    initialize,
    invariant,
    multiple,
    rule,
)
from moto import mock_aws
from moto.dynamodb.models import dynamodb_backends

import shared.domain.clock
from reliability.invariants import AccountState, read_state, state_from_items, violations
from shared.adapters.gift_provider import SANDBOX_CATALOG, SandboxGiftProvider
from shared.adapters.notification_delivery import ChannelRouter, SnsSmsSender
from shared.adapters.queue import WorkQueue
from shared.adapters.sandbox_notifications import SandboxNotificationSender, SandboxReportSource
from shared.adapters.store import DataStore, DispatchIndex, keys
from shared.domain.accounts import accounts
from shared.domain.attempts import RecipientAttempt
from shared.domain.charges import charges
from shared.domain.gifts import catalog
from shared.domain.gifts.gift_processing import GiftPayment
from shared.domain.gifts.gift_sends import create_gift_send
from shared.domain.jobs import BatchJob
from shared.domain.notifications.notification_processing import NotificationPayment
from shared.domain.notifications.notification_sends import create_notification_send
from shared.domain.notifications.sender import MessageResult, MessageStatus, NotificationMessage
from shared.domain.promotions.promotions import create_promotion
from shared.domain.reports.delivery_reports import ReportEffect, ReportNotReady, RetryPolicy, apply_reports
from shared.domain.sends import send_actions
from shared.domain.sends.batch_processing import BatchWorker, process_batch
from shared.domain.sends.dispatch import dispatch_due_sends
from shared.domain.sends.sends import recipient_id
from shared.errors import (
    DomainError,
    GiftSendingNotApproved,
    GiftUnavailable,
    IdempotencyKeyReused,
    InsufficientCredits,
    InvalidInput,
    InvalidState,
    NotFound,
    NotResendable,
    RefundNotAllowed,
)
from shared.models.api import (
    CatalogSyncResult,
    GiftRecipientInput,
    GiftSendRequest,
    NotificationRecipientInput,
    NotificationSendRequest,
    SendAccepted,
)
from shared.models.common import RESENDABLE_REASONS, Channel, RequestedChannel, SendKind
from shared.models.items import BatchItem, GiftItem, RecipientState
from shared.models.reports import DeliveryReport, ReportOutcome
from tests.conftest import table_definition

TABLE = "model-data"
BATCH_SIZE = 4  # small, so that larger sends span two batches
UNIT_CREDITS: dict[Channel, int] = {"sms": 20, "lms": 50, "email": 5}
CHANNELS: tuple[Channel, ...] = ("sms", "lms", "email")
AUTO_RETRY_ROUNDS = 3
# A fixed start makes a seeded run replayable; the domain only ever sees this virtual time.
START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
# Every other DynamoDB request counts as a write.
DYNAMODB_READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "DescribeTable", "ListTables"})

# The sandbox outcome of each address the model draws from (drawing one twice makes a duplicate recipient).
PHONES: dict[str, str] = {
    "010-2000-1111": "ok",
    "010-2000-2222": "ok",
    "010-2000-0000": "not_found",  # INVALID_RECIPIENT, free, not resendable
    "010-2000-9999": "fails",  # PROVIDER_ERROR every time
    "010-2000-8888": "flaky",  # fails the first two calls per idempotency key
    "010-2000-7777": "late_not_found",  # accepted, then reported unknown: INVALID_RECIPIENT, count back
    "010-2000-6666": "late_undelivered",  # accepted, then reported undelivered: PROVIDER_ERROR, count back
    "02-2000-5678": "invalid",  # a landline, not a mobile number
    "not-a-phone": "invalid",
}
EMAILS: dict[str, str] = {
    "kim@example.com": "ok",
    "lee@example.com": "ok",
    "x@invalid.example": "not_found",
    "y@fail.example": "fails",
    "z@bounce.example": "late_not_found",  # a hard bounce after SES accepted it
    "not-an-address": "invalid",
}
LONG_NAME = "A" * 80  # renders past the 90-byte sms limit: a 422 for sms, an lms for auto
NAMES: tuple[str | None, ...] = (None, None, "Kim", "Park Ji-sung", LONG_NAME)
SMS_MAX_BYTES = 90
TEXTS: dict[str, tuple[str | None, str]] = {  # channel -> (title, content)
    "sms": (None, "Hi {name}, you won a prize!"),
    "lms": ("Winner notice", "Dear {name}, you won a prize in our spring promotion. Show this at the booth."),
    "email": ("You won", "Dear {name}, you won a prize in our spring promotion."),
    "auto": (None, "Hi {name}, you won a prize!"),
}
GIFT_IDS = ("SBX-COFFEE", "SBX-COFFEE", "SBX-CAKE", "SBX-MOVIE", "SBX-RETIRED", "SBX-UNKNOWN")
TIMINGS = ("now", "now", "draft", "scheduled", "draft_scheduled")
# (phone, email, name): a notification send uses the phone or the email, as its channel needs.
NOTE_RECIPIENTS = st.lists(
    st.tuples(st.sampled_from(list(PHONES)), st.sampled_from(list(EMAILS)), st.sampled_from(NAMES)),
    min_size=1,
    max_size=7,
)

RULES: list[str] = []  # every rule and initializer of the machine (see counted)
P = ParamSpec("P")
R = TypeVar("R")


class SimulatedCrash(BaseException):
    """The Lambda dies here (a BaseException, so no handler in the product can swallow it)."""


class Clock:
    """The virtual now every domain module reads instead of the wall clock (see _virtual_clock)."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


CLOCK = Clock()


@dataclass
class Stats:
    """What one run() did: counted by the machines, reported by run()."""

    examples: int = 0
    steps: int = 0
    rules: Counter[str] = field(default_factory=Counter)
    expected_errors: Counter[str] = field(default_factory=Counter)
    invariant_checks: int = 0
    checks_skipped: int = 0  # nothing was written and no job changed since the previous check
    crashes: int = 0
    jobs_processed: int = 0
    idle_steps: int = 0  # a rule with nothing to act on (no job queued, say): it ran and changed nothing


STATS = Stats()


@dataclass
class World:
    """The AWS side, created once per run (inside mock_aws); each example gets a fresh, empty table."""

    client: Any
    store: DataStore
    index: DispatchIndex
    queues: dict[SendKind, WorkQueue]
    sender: SandboxNotificationSender
    report_source: SandboxReportSource
    memory: Any  # moto's in-memory table backend, read directly by state()
    writes: int = 0  # DynamoDB write requests so far: an unchanged count means unchanged state
    enqueues: int = 0  # SendMessageBatch requests so far: only then is there anything to read back
    reports: list[list[DeliveryReport]] = field(default_factory=list)  # the report queue, one list per message

    @classmethod
    def create(cls) -> World:
        client = boto3.client("dynamodb")
        client.create_table(**table_definition("DataTable", TABLE))
        sqs = boto3.client("sqs")
        queues = {
            kind: WorkQueue(sqs, sqs.create_queue(QueueName=f"model-{kind.lower()}")["QueueUrl"]) for kind in SendKind
        }
        delivery = ChannelRouter(sms=SnsSmsSender(boto3.client("sns"), concurrency=1), email=AcceptingEmailSender())
        aws_account = boto3.client("sts").get_caller_identity()["Account"]
        reports: list[list[DeliveryReport]] = []
        world = cls(
            client,
            DataStore(client, TABLE),
            DispatchIndex(client, TABLE),
            queues,
            SandboxNotificationSender(delivery, client, TABLE, lambda events: _email_reports(reports, events)),
            SandboxReportSource(client, TABLE),
            dynamodb_backends[aws_account][client.meta.region_name],
            reports=reports,
        )
        client.meta.events.register("before-call.dynamodb.*", world._count_write)
        sqs.meta.events.register("before-call.sqs.SendMessageBatch", world._count_enqueue)
        return world

    def _count_write(self, model: Any, **_: Any) -> None:
        if model.name not in DYNAMODB_READS:
            self.writes += 1

    def _count_enqueue(self, **_: Any) -> None:
        self.enqueues += 1

    def reset(self) -> None:
        """A fresh table: moto deep-copies a table for every transaction item, so a growing shared table would
        slow every step down; and the dispatch and retry indexes are global, not per account."""
        self.client.delete_table(TableName=TABLE)
        self.client.create_table(**table_definition("DataTable", TABLE))
        catalog.sync_catalog(self.store, SandboxGiftProvider(self.client, TABLE))
        for queue in self.queues.values():
            read_jobs(queue)  # whatever a failed example left behind
        self.reports.clear()

    def jobs(self) -> list[BatchJob]:
        return [job for queue in self.queues.values() for job in read_jobs(queue)]

    def state(self, account_id: str) -> AccountState:
        """The account's state straight from moto's memory: the same items the product's reads return (see verify),
        without moto serializing them into responses, which made the checks cost as much as the steps."""
        own = (keys.account(account_id), "SEND#")
        rows = (
            item.to_regular_json()
            for item in self.memory.get_table(TABLE).all_items()
            if str(item.hash_key.value).startswith(own)
        )
        return state_from_items(rows, account_id)

    def verify(self, account_id: str) -> None:
        """The state read from memory is the state the product's own reads see."""

        def ordered(state: AccountState) -> AccountState:
            return AccountState(
                state.balance,
                sorted(state.entries, key=lambda e: e.entry_id),
                sorted(state.sends, key=lambda sb: sb[0].send_id),
            )

        assert ordered(self.state(account_id)) == ordered(read_state(self.store, account_id)), (
            "model bug: moto's memory and the product's reads disagree"
        )


_WORLD: World | None = None


class AcceptingEmailSender:
    """SES SendBulkEmail's stand-in (moto's sesv2 has no SendBulkEmail): accepts every message of the batch."""

    def send_batch(self, batch_key: str, messages: Sequence[NotificationMessage]) -> dict[str, MessageResult]:
        return {m.idempotency_key: MessageResult(MessageStatus.ACCEPTED, f"ses-{m.idempotency_key}") for m in messages}


def _email_reports(
    queue: list[list[DeliveryReport]], events: Sequence[tuple[str, str, ReportOutcome, datetime]]
) -> None:
    """The sandbox's SES-shaped events, one queue message each (EventBridge -> SQS)."""
    for key, _, outcome, when in events:
        queue.append([DeliveryReport(attempt=key, outcome=outcome, occurred_at=when, provider="ses")])


def read_jobs(queue: WorkQueue) -> list[BatchJob]:
    """Every message now on the queue, deleted as read (like reliability/faults.py, ten at a time)."""
    sqs, url = queue._client, queue._url
    jobs: list[BatchJob] = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return jobs
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)]
        )
        jobs.extend(BatchJob.model_validate_json(m["Body"]) for m in messages)


@dataclass
class CrashAt:
    """Raises SimulatedCrash before (the request never happens) or after (it took effect) DynamoDB request `at`."""

    phase: str
    at: int
    seen: int = 0

    def before(self, model: Any, **_: Any) -> None:
        if self.phase == "before" and self.seen == self.at:
            raise SimulatedCrash(model.name)

    def after(self, model: Any, **_: Any) -> None:
        self.seen += 1
        if self.phase == "after" and self.seen - 1 == self.at:
            raise SimulatedCrash(model.name)


@dataclass
class ModelSend:
    kind: SendKind
    send_id: str
    status: str  # the stored status the model expects: DRAFT, SCHEDULED, QUEUED or CANCELLED
    send_at: datetime | None
    outcomes: list[str]  # each recipient's sandbox outcome class, by position (= recipient id)
    channels: list[Channel | None]  # notifications: each recipient's expected delivery channel
    reported: set[int] = field(default_factory=set)  # positions a made-up report settled (any outcome goes)


@dataclass
class ModelCharge:
    charge_id: str
    channel: Channel
    quantity: int
    cost: int
    created_at: datetime
    refunded: bool = False


def counted(
    body: Callable[Concatenate[DomainMachine, P], R],
) -> Callable[Concatenate[DomainMachine, P], R]:
    """Counts the rule for run()'s report and reads back whatever the step put on the queues."""
    RULES.append(body.__name__)

    @functools.wraps(body)
    def step(machine: DomainMachine, *args: P.args, **kwargs: P.kwargs) -> R:
        STATS.steps += 1
        STATS.rules[body.__name__] += 1
        machine.healthy = False
        result = body(machine, *args, **kwargs)
        machine.collect_jobs()
        machine.healthy = True
        return result

    return step


def _no_sleep(seconds: float) -> None:
    return None


def _sms_bytes(content: str, name: str | None) -> int:
    return len(content.replace("{name}", name or "").encode("euc-kr"))


class DomainMachine(RuleBasedStateMachine):
    sends: Bundle[ModelSend] = Bundle("sends")
    charges: Bundle[ModelCharge] = Bundle("charges")

    def __init__(self) -> None:
        super().__init__()
        if _WORLD is None:
            raise RuntimeError("DomainMachine runs inside reliability.model.run()")
        self.world = _WORLD
        STATS.examples += 1
        CLOCK.now = START
        self.world.reset()
        self.healthy = True  # False while a step or check is under way (see teardown)
        store = self.world.store
        self.account_id = accounts.create_account(store, "model").account_id
        store.set_gift_approval(self.account_id, True)
        self.approved = True
        self.promotion_id = create_promotion(store, self.account_id, "model").promotion_id
        # What the provider offers now, and what the store holds since the last sync.
        self.provider_catalog: dict[str, GiftItem] = {g.gift_id: g for g in SANDBOX_CATALOG}
        self.store_catalog = dict(self.provider_catalog)
        self.pending: list[BatchJob] = []  # on the queue, or redelivered after a crash
        self.processed: list[BatchJob] = []  # finished at least once: candidates for a duplicate delivery
        self.references: list[str] = []
        self.top_up_amounts: dict[str, int] = {}
        self.top_ups = 0
        self.model_charges: list[ModelCharge] = []
        self.model_sends: list[ModelSend] = []
        self.seen_enqueues = self.world.enqueues
        self.last_checked: tuple[Any, ...] | None = None
        self.applied_reports: list[DeliveryReport] = []  # applied (not early): candidates for a duplicate
        self.report_changes: Counter[str] = Counter()  # attempt key -> reports that changed its recipient
        self.delivered: dict[str, datetime] = {}  # attempt key -> the delivery time its report set

    # --- helpers ----------------------------------------------------------------------------

    def collect_jobs(self) -> None:
        if self.world.enqueues != self.seen_enqueues:
            self.seen_enqueues = self.world.enqueues
            self.pending.extend(self.world.jobs())

    def _expect(self, expected: type[DomainError] | None, call: Callable[[], R]) -> R | None:
        """Run a domain call that must raise exactly `expected` (or nothing, when None)."""
        raised: DomainError | None = None
        try:
            result = call()
        except DomainError as error:
            raised = error
        if raised is None:
            assert expected is None, f"expected {expected.__name__}, got {result!r}"
            return result
        assert type(raised) is expected, f"unexpected {raised.code}: {raised.message}"
        STATS.expected_errors[expected.__name__] += 1
        return None

    def _process(self, job: BatchJob, attempts: int) -> None:
        # One provider call at a time (no thread pool) and no real sleeping between provider retries.
        payment: GiftPayment | NotificationPayment = NotificationPayment(self.world.sender)
        if job.kind == SendKind.GIFT:
            payment = GiftPayment(SandboxGiftProvider(self.world.client, TABLE, tuple(self.provider_catalog.values())))
        process_batch(
            BatchWorker(
                store=self.world.store,
                payment=payment,
                max_attempts=attempts,
                retry_base_seconds=0,
                concurrency=1,
                sleep=_no_sleep,
                auto_retry_rounds=AUTO_RETRY_ROUNDS,
            ),
            job,
        )

    def _finished(self, job: BatchJob) -> None:
        """The consumer returned: the message is deleted from the queue."""
        STATS.jobs_processed += 1
        self.pending.remove(job)
        if job not in self.processed:
            self.processed.append(job)

    def _sync(self) -> CatalogSyncResult:
        result = catalog.sync_catalog(
            self.world.store, SandboxGiftProvider(self.world.client, TABLE, tuple(self.provider_catalog.values()))
        )
        self.store_catalog = dict(self.provider_catalog)
        return result

    def _send_at(self, timing: str, minutes: int) -> datetime | None:
        return CLOCK.now + timedelta(minutes=minutes) if timing in ("scheduled", "draft_scheduled") else None

    def _accepted(
        self,
        kind: SendKind,
        accepted: SendAccepted,
        timing: str,
        send_at: datetime | None,
        outcomes: list[str],
        channels: list[Channel | None],
    ) -> ModelSend:
        invalid = sum(1 for o in outcomes if o == "invalid")
        started = "COMPLETED" if invalid == len(outcomes) else "QUEUED"
        expected = {"now": started, "draft": "DRAFT", "draft_scheduled": "DRAFT", "scheduled": "SCHEDULED"}[timing]
        assert (accepted.status, accepted.total, accepted.invalid) == (expected, len(outcomes), invalid)
        status = "QUEUED" if expected == "COMPLETED" else expected
        send = ModelSend(kind, accepted.send_id, status, send_at, outcomes, channels)
        self.model_sends.append(send)
        return send

    # --- money --------------------------------------------------------------------------------

    def _top_up(self, amount: int, reuse: bool) -> None:
        # Reusing a settled reference is a no-op with its amount and refused with another: the same top-up is
        # never credited twice.
        reference = self.references[-1] if reuse and self.references else f"ref-{len(self.references)}"
        settled = self.top_up_amounts.get(reference, amount)
        self._expect(
            IdempotencyKeyReused if settled != amount else None,
            lambda: accounts.top_up_credits(self.world.store, self.account_id, amount, reference),
        )
        if reference not in self.references:
            self.references.append(reference)
            self.top_up_amounts[reference] = amount
            self.top_ups += amount

    def _buy(self, channel: Channel, quantity: int) -> ModelCharge | None:
        cost = quantity * UNIT_CREDITS[channel]
        short = self.world.state(self.account_id).balance.credits < cost
        view = self._expect(
            InsufficientCredits if short else None,
            lambda: charges.buy_counts(
                self.world.store, None, self.account_id, channel, quantity, UNIT_CREDITS[channel]
            ),
        )
        if view is None:
            return None
        charge = ModelCharge(view.charge_id, channel, quantity, cost, view.created_at)
        self.model_charges.append(charge)
        return charge

    # Every example starts funded and with a send of each kind under way (hypothesis enables a random subset
    # of the rules per example, so without these many examples would never reach the background path).
    @initialize(
        target=charges,
        credits=st.sampled_from((0, 4_499, 13_500, 60_000)),
        counts=st.lists(st.tuples(st.sampled_from(CHANNELS), st.integers(1, 6)), max_size=3),
    )
    @counted
    def fund_account(self, credits: int, counts: list[tuple[Channel, int]]) -> MultipleResults[ModelCharge]:
        if credits:
            self._top_up(credits, False)
        bought = [self._buy(channel, quantity) for channel, quantity in counts]
        return multiple(*(c for c in bought if c is not None))

    @initialize(target=sends, phones=st.lists(st.sampled_from(list(PHONES)), min_size=1, max_size=7))
    @counted
    def first_gift_send(self, phones: list[str]) -> ModelSend | MultipleResults[ModelSend]:
        return self._gift_send("SBX-COFFEE", phones, "now", 1) or multiple()

    @initialize(target=sends, channel=st.sampled_from(("lms", "email", "auto")), recipients=NOTE_RECIPIENTS)
    @counted
    def first_notification_send(
        self, channel: RequestedChannel, recipients: list[tuple[str, str, str | None]]
    ) -> ModelSend | MultipleResults[ModelSend]:
        return self._notification_send(channel, recipients, "now", 1) or multiple()

    @rule(amount=st.sampled_from((1, 20, 100, 4_499, 4_500, 9_000, 25_000, 60_000)), reuse=st.booleans())
    @counted
    def top_up(self, amount: int, reuse: bool) -> None:
        self._top_up(amount, reuse)

    @rule(target=charges, channel=st.sampled_from(CHANNELS), quantity=st.integers(1, 6))
    @counted
    def buy_counts(self, channel: Channel, quantity: int) -> ModelCharge | MultipleResults[ModelCharge]:
        return self._buy(channel, quantity) or multiple()

    @rule(charge=charges)
    @counted
    def refund_charge(self, charge: ModelCharge) -> None:
        unused = next(
            (
                c.remaining
                for c in self.world.state(self.account_id).balance.open_for(charge.channel)
                if c.charge_id == charge.charge_id
            ),
            0,
        )
        refundable = (
            not charge.refunded and CLOCK.now <= charge.created_at + charges.REFUND_WINDOW and unused == charge.quantity
        )
        done = self._expect(
            None if refundable else RefundNotAllowed,
            lambda: charges.refund_charge(self.world.store, self.account_id, charge.charge_id),
        )
        if done is not None:
            assert done.credits_refunded == charge.cost
            charge.refunded = True

    @rule(approved=st.sampled_from((True, True, False)))
    @counted
    def set_gift_approval(self, approved: bool) -> None:
        accounts.set_gift_approval(self.world.store, self.account_id, approved)
        self.approved = approved

    # --- sends --------------------------------------------------------------------------------

    @rule(
        target=sends,
        gift_id=st.sampled_from(GIFT_IDS),
        phones=st.lists(st.sampled_from(list(PHONES)), min_size=1, max_size=7),
        timing=st.sampled_from(TIMINGS),
        minutes=st.integers(1, 180),
    )
    @counted
    def create_gift_send(
        self, gift_id: str, phones: list[str], timing: str, minutes: int
    ) -> ModelSend | MultipleResults[ModelSend]:
        return self._gift_send(gift_id, phones, timing, minutes) or multiple()

    def _gift_send(self, gift_id: str, phones: list[str], timing: str, minutes: int) -> ModelSend | None:
        gift = self.store_catalog.get(gift_id)
        expected: type[DomainError] | None = None
        if not self.approved:
            expected = GiftSendingNotApproved
        elif gift is None:
            expected = NotFound
        elif gift.status != "ON_SALE":
            expected = GiftUnavailable
        send_at = self._send_at(timing, minutes)
        request = GiftSendRequest(
            promotion_id=self.promotion_id,
            gift_id=gift_id,
            title="Prize",
            content="Enjoy your prize",
            recipients=[GiftRecipientInput(phone=p) for p in phones],
            send_at=send_at,
            draft=timing.startswith("draft"),
        )
        accepted = self._expect(
            expected,
            lambda: create_gift_send(
                self.world.store, self.world.queues[SendKind.GIFT], self.account_id, request, BATCH_SIZE
            ),
        )
        if accepted is None:
            return None
        phone_outcomes = [PHONES[p] for p in phones]
        return self._accepted(SendKind.GIFT, accepted, timing, send_at, phone_outcomes, [None] * len(phones))

    @rule(
        target=sends,
        channel=st.sampled_from(("sms", "lms", "email", "auto")),
        recipients=NOTE_RECIPIENTS,
        timing=st.sampled_from(TIMINGS),
        minutes=st.integers(1, 180),
    )
    @counted
    def create_notification_send(
        self, channel: RequestedChannel, recipients: list[tuple[str, str, str | None]], timing: str, minutes: int
    ) -> ModelSend | MultipleResults[ModelSend]:
        return self._notification_send(channel, recipients, timing, minutes) or multiple()

    def _notification_send(
        self, channel: RequestedChannel, recipients: list[tuple[str, str, str | None]], timing: str, minutes: int
    ) -> ModelSend | None:
        title, content = TEXTS[channel]
        by_email = channel == "email"
        # The model's own reading of the message rules: each rendered sms fits 90 EUC-KR bytes, auto picks lms
        # for the ones that do not.
        channels: list[Channel | None] = []
        for _, _, name in recipients:
            if channel == "auto":
                channels.append("sms" if _sms_bytes(content, name) <= SMS_MAX_BYTES else "lms")
            else:
                channels.append(channel)
        too_long = channel == "sms" and any(_sms_bytes(content, n) > SMS_MAX_BYTES for _, _, n in recipients)
        send_at = self._send_at(timing, minutes)
        request = NotificationSendRequest(
            promotion_id=self.promotion_id,
            channel=channel,
            title=title,
            content=content,
            recipients=[
                NotificationRecipientInput(email=e, name=n) if by_email else NotificationRecipientInput(phone=p, name=n)
                for p, e, n in recipients
            ],
            send_at=send_at,
            draft=timing.startswith("draft"),
        )
        accepted = self._expect(
            InvalidInput if too_long else None,
            lambda: create_notification_send(
                self.world.store, self.world.queues[SendKind.NOTIFICATION], self.account_id, request, BATCH_SIZE
            ),
        )
        if accepted is None:
            return None
        outcomes = [EMAILS[e] if by_email else PHONES[p] for p, e, _ in recipients]
        return self._accepted(SendKind.NOTIFICATION, accepted, timing, send_at, outcomes, channels)

    # --- the background path ------------------------------------------------------------------

    # Rules without anything to act on are idle rather than guarded by a precondition: hypothesis enables a random
    # subset of the rules in each example and gives up on the example when none of them can run.

    @rule()
    @counted
    def drain_jobs(self) -> None:
        # The consumers catch up with everything queued (processing never queues more).
        if not self.pending:
            STATS.idle_steps += 1
        while self.pending:
            job = self.pending[0]
            self._process(job, 3)
            self._finished(job)

    @rule(pick=st.integers(0, 7), attempts=st.sampled_from((3, 1)))
    @counted
    def process_job(self, pick: int, attempts: int) -> None:
        # attempts=1 lets the 8888 numbers (two failures, then success) end as a resendable PROVIDER_ERROR.
        if not self.pending:
            STATS.idle_steps += 1
            return
        job = self.pending[pick % len(self.pending)]
        self._process(job, attempts)
        self._finished(job)

    @rule(pick=st.integers(0, 7), at=st.integers(0, 7), phase=st.sampled_from(("before", "after")))
    @counted
    def process_job_with_crash(self, pick: int, at: int, phase: str) -> None:
        if not self.pending:
            STATS.idle_steps += 1
            return
        job = self.pending[pick % len(self.pending)]
        crash = CrashAt(phase, at)
        events = self.world.client.meta.events
        events.register("before-call.dynamodb.*", crash.before)
        events.register("after-call.dynamodb.*", crash.after)
        try:
            self._process(job, 3)
        except SimulatedCrash:
            STATS.crashes += 1
            return  # the Lambda died: the message stays on the queue and is delivered again
        finally:
            events.unregister("before-call.dynamodb.*", crash.before)
            events.unregister("after-call.dynamodb.*", crash.after)
        self._finished(job)  # the job needed fewer requests than `at`: it finished normally

    @rule(pick=st.integers(0, 7))
    @counted
    def deliver_duplicate(self, pick: int) -> None:
        # At-least-once delivery: a message that was already handled comes again.
        if not self.processed:
            STATS.idle_steps += 1
            return
        self._process(self.processed[pick % len(self.processed)], 3)

    # --- delivery reports ---------------------------------------------------------------------

    def _apply(self, message: list[DeliveryReport]) -> list[ReportEffect] | None:
        """The report consumer on one queue message; None when a report came before its recipient was settled."""
        try:
            effects = apply_reports(self.world.store, message, RetryPolicy(AUTO_RETRY_ROUNDS, 60))
        except ReportNotReady:
            return None
        for report, effect in zip(message, effects, strict=True):
            if effect in (ReportEffect.DELIVERED, ReportEffect.INVALID_RECIPIENT, ReportEffect.PROVIDER_ERROR):
                self.report_changes[report.attempt] += 1
                assert self.report_changes[report.attempt] == 1, f"a second report changed {report.attempt}"
                if effect is ReportEffect.DELIVERED:
                    self.delivered[report.attempt] = report.occurred_at
            self.applied_reports.append(report)
        return effects

    @rule()
    @counted
    def take_reports(self) -> None:
        # The report poller (SMS) and the SES events (email) as the report consumer gets them.
        self.world.report_source.poll(CLOCK.now + timedelta(minutes=1), lambda rs: self.world.reports.append(list(rs)))
        messages = list(self.world.reports)
        self.world.reports.clear()
        if not messages:
            STATS.idle_steps += 1
        for message in messages:
            if self._apply(list(message)) is None:
                self.world.reports.append(message)  # the queue hands it over again later

    def _current(self, send: ModelSend, position: int) -> tuple[BatchItem, RecipientState] | None:
        if send.kind != SendKind.NOTIFICATION or position >= len(send.outcomes):
            return None
        batches = next(b for s, b in self.world.state(self.account_id).sends if s.send_id == send.send_id)
        rid = recipient_id(position)
        return next(((b, r) for b in batches for r in b.recipients if r.rid == rid), None)

    def _made_up_report(self, send: ModelSend, position: int, outcome: ReportOutcome) -> None:
        """A provider's report about the recipient's current attempt, whatever the sandbox would have said."""
        found = self._current(send, position)
        if found is None:
            STATS.idle_steps += 1
            return
        batch, recipient = found
        attempt = RecipientAttempt(send.send_id, batch.batch_no, recipient.rid, recipient.round).key
        report = DeliveryReport(attempt=attempt, outcome=outcome, occurred_at=CLOCK.now, provider="sandbox")
        effects = self._apply([report])
        if recipient.status == "PENDING":
            assert effects is None, "a report was applied before its recipient was settled"
            return
        assert effects is not None
        if recipient.status != "SENT" or recipient.delivered_at is not None:
            assert effects == [ReportEffect.UNCHANGED], f"a settled recipient changed: {effects}"
            return
        expected = {
            "DELIVERED": ReportEffect.DELIVERED,
            "RECIPIENT_NOT_FOUND": ReportEffect.INVALID_RECIPIENT,
            "UNDELIVERED": ReportEffect.PROVIDER_ERROR,
        }[outcome]
        assert effects == [expected], f"{outcome} report: {effects}"
        send.reported.add(position)

    @rule(send=sends, position=st.integers(0, 7))
    @counted
    def deliver_report(self, send: ModelSend, position: int) -> None:
        self._made_up_report(send, position, "DELIVERED")

    @rule(send=sends, position=st.integers(0, 7))
    @counted
    def invalid_report(self, send: ModelSend, position: int) -> None:
        self._made_up_report(send, position, "RECIPIENT_NOT_FOUND")

    @rule(send=sends, position=st.integers(0, 7))
    @counted
    def undelivered_report(self, send: ModelSend, position: int) -> None:
        self._made_up_report(send, position, "UNDELIVERED")

    @rule(pick=st.integers(0, 15), outcome=st.sampled_from((None, "DELIVERED", "RECIPIENT_NOT_FOUND", "UNDELIVERED")))
    @counted
    def duplicate_report(self, pick: int, outcome: ReportOutcome | None) -> None:
        # A report that was applied comes again, as it was or contradicting itself: nothing changes.
        if not self.applied_reports:
            STATS.idle_steps += 1
            return
        report = self.applied_reports[pick % len(self.applied_reports)]
        if outcome is not None:
            report = report.model_copy(update={"outcome": outcome})
        assert self._apply([report]) in ([ReportEffect.UNCHANGED], [ReportEffect.UNKNOWN])

    # --- actions on existing sends ------------------------------------------------------------

    def _resendable(self, send: ModelSend, chosen: Callable[[RecipientState], bool]) -> int:
        """What a resend must put back to PENDING: settled resendable failures in batches not being processed."""
        batches = next(b for s, b in self.world.state(self.account_id).sends if s.send_id == send.send_id)
        return sum(
            1
            for b in batches
            if b.reservation is None
            for r in b.recipients
            if r.status == "FAILED" and r.resendable and r.reason in RESENDABLE_REASONS and chosen(r)
        )

    @rule(send=sends, channel=st.sampled_from((None, "sms", "lms", "email")))
    @counted
    def resend_failed(self, send: ModelSend, channel: Channel | None) -> None:
        wanted = channel if send.kind == SendKind.NOTIFICATION else None
        expected = self._resendable(send, lambda r: wanted is None or r.channel == wanted)
        resent = self._expect(
            None if send.status == "QUEUED" else InvalidState,
            lambda: send_actions.resend_send(
                self.world.store, self.world.queues[send.kind], self.account_id, send.kind, send.send_id, wanted
            ),
        )
        if resent is not None:
            assert resent == expected

    @rule(send=sends, position=st.integers(0, 7))
    @counted
    def resend_recipient(self, send: ModelSend, position: int) -> None:
        rid = recipient_id(position)
        error: type[DomainError] | None = None
        if position >= len(send.outcomes):
            error = NotFound
        elif send.status != "QUEUED":
            error = InvalidState
        elif not self._resendable(send, lambda r: r.rid == rid):
            error = NotResendable
        resent = self._expect(
            error,
            lambda: send_actions.resend_recipient(
                self.world.store, self.world.queues[send.kind], self.account_id, send.kind, send.send_id, rid
            ),
        )
        assert resent in (None, 1)

    @rule(send=sends)
    @counted
    def submit_draft(self, send: ModelSend) -> None:
        submitted = self._expect(
            None if send.status == "DRAFT" else InvalidState,
            lambda: send_actions.submit(
                self.world.store, self.world.queues[send.kind], self.account_id, send.kind, send.send_id
            ),
        )
        if submitted is not None:
            send.status = "SCHEDULED" if send.send_at is not None and send.send_at > CLOCK.now else "QUEUED"
            assert submitted.status == send.status

    @rule(send=sends)
    @counted
    def cancel_send(self, send: ModelSend) -> None:
        cancellable = send.status in ("DRAFT", "SCHEDULED")
        cancelled = self._expect(
            None if cancellable else InvalidState,
            lambda: send_actions.cancel(self.world.store, self.account_id, send.kind, send.send_id),
        )
        if cancelled is not None:
            send.status = "CANCELLED"

    @rule(minutes=st.sampled_from((1, 3, 30, 180, 60 * 24, 60 * 24 * 8)))
    @counted
    def advance_clock(self, minutes: int) -> None:
        CLOCK.now += timedelta(minutes=minutes)

    @rule()
    @counted
    def run_dispatcher(self) -> None:
        due = [
            s for s in self.model_sends if s.status == "SCHEDULED" and s.send_at is not None and s.send_at <= CLOCK.now
        ]
        dispatched = dispatch_due_sends(self.world.store, self.world.index, self.world.queues, CLOCK.now)
        assert dispatched == len(due)
        for send in due:
            send.status = "QUEUED"

    @rule()
    @counted
    def run_retry_job(self) -> None:
        send_actions.retry_provider_errors(self.world.store, self.world.queues, CLOCK.now, AUTO_RETRY_ROUNDS)

    # --- the catalog --------------------------------------------------------------------------

    @rule(
        gift_id=st.sampled_from(("SBX-COFFEE", "SBX-CAKE", "SBX-MOVIE", "SBX-RETIRED")),
        change=st.sampled_from(("price", "discontinue", "restore")),
        price=st.sampled_from((0, 1_000, 4_500, 30_000)),
        sync=st.booleans(),
    )
    @counted
    def change_catalog(self, gift_id: str, change: str, price: int, sync: bool) -> None:
        # The provider changes first; the store follows at the next sync (until then they disagree).
        gift = self.provider_catalog[gift_id]
        update: dict[str, Any] = (
            {"price": price}
            if change == "price"
            else {"status": "DISCONTINUED" if change == "discontinue" else "ON_SALE"}
        )
        self.provider_catalog[gift_id] = gift.model_copy(update=update)
        if sync:
            self._sync()

    @rule()
    @counted
    def sync_catalog(self) -> None:
        in_sync = self.provider_catalog == self.store_catalog
        result = self._sync()
        assert not in_sync or result.updated == result.discontinued == 0, "a sync with nothing new changed gifts"

    # --- checks -------------------------------------------------------------------------------

    @invariant()
    def contract_holds(self) -> None:
        seen = (self.world.writes, CLOCK.now, tuple((j.send_id, j.batch_no) for j in self.pending))
        if seen == self.last_checked:
            STATS.checks_skipped += 1  # nothing written, no job consumed or queued: the same state again
            return
        self.last_checked = seen
        STATS.invariant_checks += 1
        self.healthy = False
        state = self.world.state(self.account_id)
        found = violations(state, work_queued=bool(self.pending))
        assert not found, found
        self._check_model(state)
        self.healthy = True

    def teardown(self) -> None:
        # The product's reads cost as much as several steps: every eighth example is enough to catch a
        # difference. (After a failure, let hypothesis report that one.)
        if self.healthy and STATS.examples % 8 == 1:
            self.world.verify(self.account_id)

    def _check_model(self, state: AccountState) -> None:
        stored = {send.send_id: (send, batches) for send, batches in state.sends}
        assert set(stored) == {s.send_id for s in self.model_sends}, "sends appeared or disappeared"
        queued = {(j.send_id, j.batch_no) for j in self.pending}
        sent: list[tuple[str, RecipientState, Channel | None]] = []
        for model in self.model_sends:
            send, batches = stored[model.send_id]
            assert send.status == model.status, f"send {model.send_id}: {send.status}, expected {model.status}"
            recipients = [r for batch in batches for r in batch.recipients]
            assert [r.rid for r in recipients] == [recipient_id(i) for i in range(len(model.outcomes))]
            for position, (recipient, outcome, channel) in enumerate(
                zip(recipients, model.outcomes, model.channels, strict=True)
            ):
                _check_recipient(model.kind, recipient, "reported" if position in model.reported else outcome, channel)
                key = RecipientAttempt(send.send_id, 0, recipient.rid, recipient.round)
                for batch in batches:
                    if recipient in batch.recipients:
                        key = RecipientAttempt(send.send_id, batch.batch_no, recipient.rid, recipient.round)
                if key.key in self.delivered:
                    assert recipient.delivered_at == self.delivered[key.key], f"{key.key}: delivery time changed"
                if recipient.status == "SENT":
                    sent.append((model.kind, recipient, channel))
            if send.status == "QUEUED":
                # Stricter than invariant 4: every batch still owing work has its own job queued.
                for batch in batches:
                    owes = batch.reservation is not None or any(r.status == "PENDING" for r in batch.recipients)
                    assert not owes or (send.send_id, batch.batch_no) in queued, (
                        f"batch {batch.batch_no} of {send.send_id} owes work and has no job queued"
                    )
        if self.pending:
            return
        # Everything settled: the balance is what the model paid in, minus what was bought and delivered.
        balance = state.balance
        active = [c for c in self.model_charges if not c.refunded]
        gifts = sum(r.charged for kind, r, _ in sent if kind == "GIFT")
        assert balance.credits == self.top_ups - sum(c.cost for c in active) - gifts, "credits drifted"
        for channel in CHANNELS:
            bought = sum(c.quantity for c in active if c.channel == channel)
            used = sum(1 for kind, _, ch in sent if kind == "NOTIFICATION" and ch == channel)
            assert balance.count(channel) == bought - used, f"{channel} counts drifted"


def _check_recipient(kind: SendKind, r: RecipientState, outcome: str, channel: Channel | None) -> None:
    """The sandbox's table, as the model reads it, against the recipient's stored state."""
    where = f"{kind} recipient {r.rid} ({outcome}): {r.status} {r.reason}"
    if kind == "NOTIFICATION":
        assert r.channel == channel, f"{where}: channel {r.channel}, expected {channel}"
    assert r.reason != "GIFT_UNAVAILABLE" or kind == "GIFT", where
    assert r.status == "SENT" or r.charged == 0, where
    if r.reason == "INVALID_RECIPIENT":
        assert not r.resendable, where
        assert r.charge_id is None, where
    if outcome == "reported":
        return  # a made-up report settled it: any outcome goes, within the rules above
    if outcome == "invalid":
        assert (r.status, r.reason) == ("FAILED", "INVALID_RECIPIENT"), where
    elif outcome == "late_not_found":
        assert r.reason != "PROVIDER_ERROR", where
    elif outcome == "late_undelivered":
        assert r.reason != "INVALID_RECIPIENT", where
    elif outcome == "not_found":
        assert r.status != "SENT", where
        assert r.reason != "PROVIDER_ERROR", where
    elif outcome == "fails":
        assert r.status != "SENT", where
        assert r.reason != "INVALID_RECIPIENT", where
    elif outcome == "flaky":
        assert r.reason != "INVALID_RECIPIENT", where
    else:
        assert r.reason not in ("INVALID_RECIPIENT", "PROVIDER_ERROR"), where


# --- running it ---------------------------------------------------------------------------------


@contextmanager
def _aws_environment() -> Iterator[None]:
    """moto's credentials and region for the run; no endpoint override (everything stays in-process)."""
    wanted = {"AWS_DEFAULT_REGION": "ap-northeast-2", "AWS_ACCESS_KEY_ID": "model", "AWS_SECRET_ACCESS_KEY": "model"}
    names = [*wanted, "AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"]
    saved = {name: os.environ.get(name) for name in names}
    for name in names:
        os.environ.pop(name, None)
    os.environ.update(wanted)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def _virtual_clock() -> Iterator[None]:
    """Every loaded shared.* module that took `utc_now` from shared.domain.clock reads CLOCK instead."""
    real = shared.domain.clock.utc_now
    patched = [
        module
        for name, module in list(sys.modules.items())
        if name.startswith("shared.") and getattr(module, "utc_now", None) is real
    ]
    for module in patched:
        module.utc_now = CLOCK  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for module in patched:
            module.utc_now = real  # type: ignore[attr-defined]


def run(examples: int, steps: int, seed: int | None = None) -> dict[str, Any]:
    """Run the machine for `examples` examples of up to `steps` steps. An invariant violation propagates as
    hypothesis's falsifying example (shrunk); otherwise returns what ran."""
    global STATS, _WORLD
    STATS = Stats()
    started = time.perf_counter()
    test = get_state_machine_test(
        DomainMachine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
    if seed is not None:
        test = use_seed(seed)(test)
    with _aws_environment(), mock_aws(), _virtual_clock():
        _WORLD = World.create()
        try:
            test()
        finally:
            _WORLD = None
    return {
        "model_examples": STATS.examples,
        "model_steps": STATS.steps,
        "rules": dict(sorted(STATS.rules.items())),
        "invariant_violations": 0,
        "invariant_checks": STATS.invariant_checks,
        "checks_skipped": STATS.checks_skipped,
        "crashes_injected": STATS.crashes,
        "jobs_processed": STATS.jobs_processed,
        "idle_steps": STATS.idle_steps,
        "expected_errors": dict(sorted(STATS.expected_errors.items())),
        "seed": seed,
        "seconds": round(time.perf_counter() - started, 1),
    }


def rule_names() -> list[str]:
    """Every rule of the machine (for checking that a run exercised them all)."""
    return sorted(RULES)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Model-based test of the domain against moto.")
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--output", type=Path, help="also write the result as JSON here")
    options = parser.parse_args(argv)
    result = json.dumps(run(options.examples, options.steps, options.seed), indent=2)
    print(result)
    if options.output:
        options.output.write_text(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
