"""The benchmark: one 10,000-recipient gift send and three 10,000-recipient notification sends, API call to SENT,
run by the real handlers in-process against MiniStack's AWS APIs on 127.0.0.1 (started here on its own
port), every AWS request counted from botocore's own request events. Prints a table and writes bench/results.json.

Why MiniStack and not moto: moto copies every table for each TransactWriteItems (its rollback), so its
cost grows with the table and says nothing about this service; `--engine moto` is still there for a
network-free run.

Providers: gifts use an instant in-process gift provider (the sandbox one keeps its provider-side state in
DynamoDB, which would be counted and timed as ours). Notifications go through the senders the service builds
from its settings, in batches of NOTIFICATION_RECIPIENTS_PER_BATCH (200):

- sms, Solapi (NOTIFICATION_PROVIDER=solapi): the real SolapiSender against the Solapi wire fake
  (tests/fakes/solapi_server.py) on 127.0.0.1 in this process; its delivery requests are the HTTP requests the
  fake counts. The group-tracking item the sender keeps per batch is DynamoDB, counted as the service's own.
- email, SES bulk (the same settings): the real SesBulkEmailSender against MiniStack's SES; delivery requests are
  ``sesv2.SendBulkEmail`` (50 recipients each).
- sms, SNS sandbox (NOTIFICATION_PROVIDER=sandbox): the sandbox sender in front of SNS, one ``sns.Publish`` per
  message: the floor of 1.0, reported apart, with no target.

Bulk delivery target: at most BULK_DELIVERY_TARGET requests per recipient for the first two.

Run: make bench   (or .venv/bin/python -m bench.run [recipients])
"""

from __future__ import annotations

import argparse
import json
import os
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from bench.aws_calls import CallCounter
from scripts import ministack_server
from tests.conftest import table_definition
from tests.fakes.solapi_server import API_KEY, API_SECRET, SENDER_NUMBER, FakeSolapiServer

TABLE, IDEMPOTENCY_TABLE = "bench-data", "bench-idempotency"
RESULTS = Path(__file__).resolve().parent / "results.json"
DYNAMODB_ITEM_WRITES_PER_SECOND = 1_000  # the per-item (per-partition) write limit on real DynamoDB
CONSUMER_CONCURRENCY = int(os.environ.get("BENCH_CONSUMER_CONCURRENCY", "1"))
DELIVERY_OPERATIONS = ("sns.Publish", "sesv2.SendEmail", "sesv2.SendBulkEmail")
SOLAPI_ENDPOINTS = ("create", "add", "send", "group", "list")  # the fake's per-endpoint request counters
BULK_DELIVERY_TARGET = 0.03
SANDBOX_DELIVERY_FLOOR = 1.0
SENDER_DOMAIN = "win-notifications.example"
TARGETS = {
    "aws_requests_per_recipient": 0.3,
    "write_units_per_recipient": 1.5,  # measured by the engine; one durable record under 1 KB is 1
    "balance_writes_per_recipient": 0.04,
    "ceiling_ratio": 0.25,  # the gift path; three writes per recipient (two transactional) is about 0.2-0.33
    "gift_ratio": 0.8,  # the bulk notification paths' throughput against the gift path's, same run
    "api_requests": 50,
    "delivery_requests_per_recipient": BULK_DELIVERY_TARGET,  # the bulk paths only; the sandbox is its floor
}
BULK_PATHS = ("notification", "notification_email")


@dataclass(frozen=True)
class NotificationPath:
    """One measured notification send: its channel, the provider setting, and its delivery target (None: floor)."""

    key: str
    label: str
    channel: str
    provider: str
    delivery_target: float | None


NOTIFICATION_PATHS = (
    NotificationPath("notification", "sms solapi", "sms", "solapi", BULK_DELIVERY_TARGET),
    NotificationPath("notification_email", "email ses bulk", "email", "solapi", BULK_DELIVERY_TARGET),
    NotificationPath("notification_sns", "sms sns sandbox", "sms", "sandbox", None),
)


class InstantGiftProvider:
    """Answers at once: the benchmark measures this service, not a provider."""

    def issue(self, request: Any) -> Any:
        from shared.domain.gifts.provider import IssueOutcome, IssueResult

        return IssueResult(
            IssueOutcome.ISSUED, coupon_id=f"C-{request.idempotency_key}", expires_on=date.today() + timedelta(days=29)
        )

    def catalog(self) -> list[Any]:
        from shared.adapters.gift_provider import SANDBOX_CATALOG

        return list(SANDBOX_CATALOG)


def _environment() -> None:
    os.environ.update(
        {
            "AWS_DEFAULT_REGION": "ap-northeast-2",
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "TABLE_NAME": TABLE,
            "IDEMPOTENCY_TABLE_NAME": IDEMPOTENCY_TABLE,
            "RECIPIENTS_PER_BATCH": "50",
            "NOTIFICATION_RECIPIENTS_PER_BATCH": "200",
            "PROVIDER_RETRY_BASE_SECONDS": "0",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "POWERTOOLS_METRICS_NAMESPACE": "Bench",
            # The handlers' metric (EMF) lines would land on stdout between the figures.
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_SERVICE_NAME": "bench",
            "EVENT_BUS_NAME": "default",
            "POWERTOOLS_IDEMPOTENCY_DISABLED": "false",
            "EMAIL_FROM_ADDRESS": f"no-reply@{SENDER_DOMAIN}",
            "SMS_SENDER_NUMBER": SENDER_NUMBER,
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.pop("AWS_PROFILE", None)


def _call(method: str, path: str, body: Any, role: str, account_id: str = "", **kw: Any) -> dict[str, Any]:
    from functions.api.handler import lambda_handler
    from tests.lambda_events import LambdaContextStub, api_event

    response = lambda_handler(
        api_event(method, path, body=body, role=role, account_id=account_id, **kw), LambdaContextStub()
    )
    return {"status": response["statusCode"], "body": json.loads(response["body"] or "null")}


def _fresh_clients() -> None:
    from functions.api import dependencies
    from functions.send_gift import handler as gift_consumer
    from functions.send_notification import handler as notification_consumer
    from shared import settings

    dependencies.clear_caches()
    gift_consumer.processing.cache_clear()
    notification_consumer.processing.cache_clear()
    settings.gift_consumer_settings.cache_clear()
    settings.notification_consumer_settings.cache_clear()


def _use_notification_provider(provider: str) -> None:
    """Rebuilds the notification consumer with ``provider`` (API clients stay: their set-up is not measured)."""
    from functions.send_notification import handler as notification_consumer
    from shared import settings

    os.environ["NOTIFICATION_PROVIDER"] = provider
    settings.notification_consumer_settings.cache_clear()
    notification_consumer.processing.cache_clear()
    notification_consumer.processing()  # built before the run: reading Solapi's secret is a cold start's


def _engine_ceiling(recipients: int) -> float:
    """Items/s moto accepts as BatchWriteItem of recipient-sized records: the least a recipient needs."""
    client: Any = boto3.client("dynamodb")
    items = [
        {
            "PutRequest": {
                "Item": {
                    "pk": {"S": f"CEILING#{i // 50}"},
                    "sk": {"S": f"R#{i:06d}"},
                    "phone": {"S": f"+8210{i:08d}"},
                    "status": {"S": "SENT"},
                }
            }
        }
        for i in range(recipients)
    ]
    started = time.perf_counter()
    for start in range(0, len(items), 25):
        client.batch_write_item(RequestItems={TABLE: items[start : start + 25]})
    return recipients / (time.perf_counter() - started)


def _peak_memory_of_one_batch(consume: Callable[[dict[str, Any]], Any], messages: list[dict[str, Any]]) -> int:
    """Peak Python allocations while the consumer handles one Lambda batch again (already settled, so this
    is the read path; tracemalloc slows everything, so it is kept out of the timed run)."""
    from tests.lambda_events import sqs_event

    tracemalloc.start()
    consume(sqs_event(messages))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def _measure(
    counter: CallCounter,
    recipients: int,
    create: Callable[[], dict[str, Any]],
    queue_url: str,
    consume: Callable[[dict[str, Any]], Any],
    http_delivery: Callable[[], Counter[str]],
) -> dict[str, Any]:
    """``http_delivery``: the delivery requests made over HTTP so far (the Solapi fake's counters), by endpoint."""
    from tests.lambda_events import drain_queue, sqs_event

    sqs = boto3.client("sqs")
    counter.reset()
    started = time.perf_counter()
    accepted = create()
    api_seconds = time.perf_counter() - started
    assert accepted["status"] == 202, accepted
    api_requests, api_by_operation = counter.total(), dict(counter.requests)
    api_writes, api_reads = Counter(counter.write_units_by_target), Counter(counter.read_units_by_target)
    api_model_units, api_balance = counter.model_write_units, counter.balance_writes
    counter.reset()

    paused = time.perf_counter()
    messages = drain_queue(sqs, queue_url)  # Lambda's event source mapping does this, not the service
    drain_seconds = time.perf_counter() - paused
    counter.reset()
    # BENCH_CONSUMER_CONCURRENCY > 1 runs invocations at once, as Lambda can (they then race on the balance).
    batches = [sqs_event(messages[start : start + 5]) for start in range(0, len(messages), 5)]
    http_before = http_delivery()
    with ThreadPoolExecutor(max_workers=CONSUMER_CONCURRENCY) as pool:
        list(pool.map(consume, batches))
    seconds = time.perf_counter() - started - drain_seconds
    by_operation = dict(counter.requests)
    aws_delivery = {op: n for op, n in by_operation.items() if op in DELIVERY_OPERATIONS}
    own = counter.total() - sum(aws_delivery.values()) + api_requests
    delivery = aws_delivery | {op: n for op, n in (http_delivery() - http_before).items() if n}
    writes = api_writes + counter.write_units_by_target
    reads = api_reads + counter.read_units_by_target
    model_units = counter.model_write_units + api_model_units
    balance = counter.balance_writes + api_balance
    peak = _peak_memory_of_one_batch(consume, messages[:5])
    balance_per_recipient = balance / recipients
    return {
        "send_id": accepted["body"]["send_id"],
        "recipients": recipients,
        "api_requests": api_requests,
        "api_requests_by_operation": api_by_operation,
        "background_requests_by_operation": {op: n for op, n in by_operation.items() if op not in aws_delivery},
        "delivery_requests_by_operation": delivery,
        "delivery_requests_per_recipient": round(sum(delivery.values()) / recipients, 4),
        "aws_requests_per_recipient": round(own / recipients, 4),
        "write_units_per_recipient": round(sum(writes.values()) / recipients, 4),
        "model_write_units_per_recipient": round(model_units / recipients, 4),
        "read_units_per_recipient": round(sum(reads.values()) / recipients, 4),
        "write_units_by_table_and_index": {target: round(units, 1) for target, units in sorted(writes.items())},
        "read_units_by_table_and_index": {target: round(units, 1) for target, units in sorted(reads.items())},
        "sandbox_provider_units": round(counter.provider_units, 1),
        "balance_writes_per_recipient": round(balance_per_recipient, 4),
        "sends_per_second_per_account": round(DYNAMODB_ITEM_WRITES_PER_SECOND / balance_per_recipient)
        if balance_per_recipient
        else None,
        "api_seconds": round(api_seconds, 3),
        "seconds": round(seconds, 3),
        "recipients_per_second": round(recipients / seconds, 1),
        "consumer_peak_memory_bytes_per_batch": peak,
    }


ROOT = Path(__file__).resolve().parent.parent
BENCH_PORT = int(os.environ.get("BENCH_MINISTACK_PORT", "4599"))


@contextmanager
def ministack() -> Iterator[None]:
    """A private MiniStack for this run (scripts/ministack_server.py); its state is in memory and goes with it."""
    workdir = ROOT / ".local"
    with ministack_server.running(BENCH_PORT, workdir, workdir / "bench-ministack.log", log_level="WARNING"):
        os.environ.update(ministack_server.client_env(BENCH_PORT))
        yield


def run(recipients: int, engine: str = "ministack") -> dict[str, Any]:
    _environment()
    # moto implements no sesv2 SendBulkEmail: its network-free run leaves the email path out.
    paths = [path for path in NOTIFICATION_PATHS if engine == "ministack" or path.channel != "email"]
    with ministack() if engine == "ministack" else mock_aws(), FakeSolapiServer() as solapi:
        _fresh_clients()
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(**table_definition("DataTable", TABLE))
        dynamodb.create_table(**table_definition("IdempotencyTable", IDEMPOTENCY_TABLE))
        sqs = boto3.client("sqs")
        gift_queue = sqs.create_queue(QueueName="bench-gift-sends")["QueueUrl"]
        notification_queue = sqs.create_queue(QueueName="bench-notification-sends")["QueueUrl"]
        webhook_queue = sqs.create_queue(QueueName="bench-webhook-deliveries")["QueueUrl"]  # no webhooks here
        webhook_key = boto3.client("kms").create_key()["KeyMetadata"]["KeyId"]
        boto3.client("sesv2").create_email_identity(EmailIdentity=SENDER_DOMAIN)
        secret = boto3.client("secretsmanager").create_secret(
            Name="bench-solapi", SecretString=json.dumps({"api_key": API_KEY, "api_secret": API_SECRET})
        )
        os.environ.update(
            {
                "GIFT_SEND_QUEUE_URL": gift_queue,
                "NOTIFICATION_SEND_QUEUE_URL": notification_queue,
                "WEBHOOK_DELIVERY_QUEUE_URL": webhook_queue,
                "WEBHOOK_SECRET_KEY_ID": webhook_key,
                "SOLAPI_ENDPOINT": solapi.url,
                "SOLAPI_SECRET_ARN": secret["ARN"],
            }
        )
        _fresh_clients()

        def solapi_requests() -> Counter[str]:
            return Counter({f"solapi.{endpoint}": solapi.calls(endpoint) for endpoint in SOLAPI_ENDPOINTS})

        sms_sends = sum(path.channel == "sms" for path in paths)
        email_sends = sum(path.channel == "email" for path in paths)
        _call("POST", "/admin/catalog/sync", None, "admin")
        account_id = _call("POST", "/admin/accounts", {"name": "Bench"}, "admin")["body"]["account_id"]
        _call("POST", f"/admin/accounts/{account_id}/gift-approval", {"approved": True}, "admin")
        _call(
            "POST",
            f"/admin/accounts/{account_id}/credits",
            {"amount": (4_500 + 20 * sms_sends + 5 * email_sends) * recipients, "reference": "bench"},
            "admin",
        )
        for channel, count in (("sms", sms_sends), ("email", email_sends)):
            _call("POST", "/charges", {"channel": channel, "quantity": count * recipients}, "account", account_id)
        promotion = _call("POST", "/promotions", {"name": "Bench"}, "account", account_id)["body"]["promotion_id"]
        # Never ending 0000, 8888 or 9999: every recipient is deliverable in the sandbox (and accepted by the fake).
        phones = [f"010-{5000 + i // 5_000:04d}-{1000 + i % 5_000:04d}" for i in range(recipients)]
        emails = [f"winner{i:05d}@{SENDER_DOMAIN}" for i in range(recipients)]

        from functions.send_gift import handler as gift_consumer
        from functions.send_notification import handler as notification_consumer
        from shared.domain.gifts.gift_processing import GiftPayment
        from shared.domain.sends.batch_processing import BatchWorker
        from tests.lambda_events import LambdaContextStub

        counter = CallCounter()
        counter.attach()
        _fresh_clients()
        gift_consumer.processing()  # build, then swap in the instant provider
        gift_consumer.processing.cache_clear()
        worker = BatchWorker(store=gift_consumer.processing().store, payment=GiftPayment(InstantGiftProvider()))
        original = gift_consumer.processing
        gift_consumer.processing = lambda: worker  # type: ignore[assignment]
        try:
            gift_body = {
                "promotion_id": promotion,
                "gift_id": "SBX-COFFEE",
                "title": "Winner",
                "content": "Congrats",
                "recipients": [{"phone": p} for p in phones],
            }
            gift = _measure(
                counter,
                recipients,
                lambda: _call(
                    "POST", "/gift-sends", gift_body, "account", account_id, headers={"Idempotency-Key": "bench-gift"}
                ),
                gift_queue,
                lambda event: gift_consumer.lambda_handler(event, LambdaContextStub()),
                solapi_requests,
            )
        finally:
            gift_consumer.processing = original

        sends: dict[str, dict[str, Any]] = {"gift": gift}
        for path in paths:
            _use_notification_provider(path.provider)
            if path.channel == "email":
                addressed = [{"email": e, "name": "Kim"} for e in emails]
                body = {"title": "{name}, you won", "content": "{name}, you won! Details inside."}
            else:
                addressed = [{"phone": p, "name": "Kim"} for p in phones]
                body = {"content": "{name}, you won!"}
            notification_body = {"promotion_id": promotion, "channel": path.channel, "recipients": addressed, **body}
            result = _measure(
                counter,
                recipients,
                partial(
                    _call,
                    "POST",
                    "/notification-sends",
                    notification_body,
                    "account",
                    account_id,
                    headers={"Idempotency-Key": f"bench-{path.key}"},
                ),
                notification_queue,
                lambda event: notification_consumer.lambda_handler(event, LambdaContextStub()),
                solapi_requests,
            )
            result.update(_delivery_verdict(result["delivery_requests_per_recipient"], path.delivery_target))
            sends[path.key] = result
        solapi_sms = sum(path.channel == "sms" and path.provider == "solapi" for path in paths)
        assert len(solapi.sent_messages()) == solapi_sms * recipients, "the Solapi fake sent another number"
        ceiling = _engine_ceiling(recipients)
        for key, result in sends.items():
            kind = "gift-sends" if key == "gift" else "notification-sends"
            counts = _call("GET", f"/{kind}/{result['send_id']}", None, "account", account_id)["body"]["counts"]
            assert counts["sent"] == recipients, (key, counts)
            result["engine_ceiling_per_second"] = round(ceiling, 1)
            result["ceiling_ratio"] = round(result["recipients_per_second"] / ceiling, 3)
            result["gift_ratio"] = round(result["recipients_per_second"] / gift["recipients_per_second"], 3)
        where = f"MiniStack on 127.0.0.1:{BENCH_PORT}" if engine == "ministack" else "moto (mock_aws)"
        return {
            "engine": f"handlers in-process, AWS APIs of {where}, Solapi wire fake on {solapi.url}",
            **sends,
            "delivery_requests_per_recipient": {
                path.key: {
                    "value": sends[path.key]["delivery_requests_per_recipient"],
                    "target": path.delivery_target,
                    "floor": None if path.delivery_target is not None else SANDBOX_DELIVERY_FLOOR,
                    "passed": sends[path.key]["delivery_target_met"],
                }
                for path in paths
            },
            "targets": TARGETS,
            "checks": throughput_checks(sends),
        }


def throughput_checks(sends: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Each target of the throughput part against its figure: (name, value, target, passed)."""
    checks: list[dict[str, Any]] = []

    def check(name: str, value: float, target: float, at_least: bool = False) -> None:
        checks.append({"name": name, "value": value, "target": target, "at_least": at_least,
                       "passed": value >= target if at_least else value <= target})  # fmt: skip

    for key, result in sends.items():
        check(
            f"{key}.write_units_per_recipient",
            result["write_units_per_recipient"],
            TARGETS["write_units_per_recipient"],
        )
        check(
            f"{key}.aws_requests_per_recipient",
            result["aws_requests_per_recipient"],
            TARGETS["aws_requests_per_recipient"],
        )
        check(
            f"{key}.balance_writes_per_recipient",
            result["balance_writes_per_recipient"],
            TARGETS["balance_writes_per_recipient"],
        )
        check(f"{key}.api_requests", result["api_requests"], TARGETS["api_requests"])
    check("gift.ceiling_ratio", sends["gift"]["ceiling_ratio"], TARGETS["ceiling_ratio"], at_least=True)
    for key in BULK_PATHS:
        if key in sends:
            check(f"{key}.gift_ratio", sends[key]["gift_ratio"], TARGETS["gift_ratio"], at_least=True)
            check(f"{key}.delivery_requests_per_recipient", sends[key]["delivery_requests_per_recipient"],
                  TARGETS["delivery_requests_per_recipient"])  # fmt: skip
    return checks


def _delivery_verdict(per_recipient: float, target: float | None) -> dict[str, Any]:
    """Bulk paths against the target; the sandbox path has none (None), its floor is one request per message."""
    return {
        "delivery_target": target,
        "delivery_target_met": per_recipient <= target if target is not None else None,
    }


LABELS = {"gift": "gift", **{path.key: path.label for path in NOTIFICATION_PATHS}}


def _table(results: dict[str, Any]) -> str:
    rows = [
        "aws_requests_per_recipient",
        "delivery_requests_per_recipient",
        "write_units_per_recipient",
        "model_write_units_per_recipient",
        "read_units_per_recipient",
        "balance_writes_per_recipient",
        "sends_per_second_per_account",
        "api_requests",
        "recipients_per_second",
        "engine_ceiling_per_second",
        "ceiling_ratio",
        "gift_ratio",
        "consumer_peak_memory_bytes_per_batch",
    ]
    paths = [path for path in NOTIFICATION_PATHS if path.key in results]
    columns = ["gift", *(path.key for path in paths)]
    header = "".join(f"{LABELS[column]:>16}" for column in columns)
    lines = [f"{'figure':38}{header} {'target':>12}"]
    for row in rows:
        values = "".join(f"{results[column].get(row, '-')!s:>16}" for column in columns)
        target = f"{TARGETS[row]} (bulk)" if row == "delivery_requests_per_recipient" else TARGETS.get(row, "")
        lines.append(f"{row:38}{values} {target!s:>12}")
    lines.append("")
    for path in paths:
        verdict = results["delivery_requests_per_recipient"][path.key]
        if path.delivery_target is None:
            judged = f"floor {SANDBOX_DELIVERY_FLOOR} (one request per message), no target"
        else:
            judged = f"target <= {path.delivery_target}: {'PASS' if verdict['passed'] else 'FAIL'}"
        operations = results[path.key]["delivery_requests_by_operation"]
        lines.append(f"delivery, {path.label:16} {verdict['value']!s:>8} per recipient  {judged}  {operations}")
    lines.append("")
    for column in columns:
        lines.append(f"write units, {LABELS[column]:16} {results[column]['write_units_by_table_and_index']}")
        lines.append(f"read units,  {LABELS[column]:16} {results[column]['read_units_by_table_and_index']}")
    return "\n".join(lines)


if __name__ == "__main__":
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("recipients", nargs="?", type=int, default=10_000)
    arguments.add_argument("--engine", choices=("ministack", "moto"), default="ministack")
    options = arguments.parse_args()
    outcome = run(options.recipients, options.engine)
    RESULTS.write_text(json.dumps(outcome, indent=2) + "\n")
    print(_table(outcome))
    print(f"\nengine: {outcome['engine']}; details in {RESULTS}")
