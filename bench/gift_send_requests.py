"""AWS requests for one 10,000-recipient gift send, API call and background, counted in-process on moto.

Run: .venv/bin/python -m bench.gift_send_requests [recipients]
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import boto3
from moto import mock_aws

from bench.aws_calls import CallCounter
from tests.conftest import table_definition

TABLE, IDEMPOTENCY_TABLE = "bench-data", "bench-idempotency"


def _environment() -> None:
    os.environ.update({
        "AWS_DEFAULT_REGION": "ap-northeast-2", "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
        "TABLE_NAME": TABLE, "IDEMPOTENCY_TABLE_NAME": IDEMPOTENCY_TABLE, "RECIPIENTS_PER_BATCH": "50",
        "PROVIDER_RETRY_BASE_SECONDS": "0", "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "Bench", "POWERTOOLS_SERVICE_NAME": "bench", "POWERTOOLS_LOG_LEVEL": "ERROR",
    })
    os.environ.pop("AWS_ENDPOINT_URL", None)


def _call(method: str, path: str, body: Any, role: str, account_id: str = "") -> dict[str, Any]:
    from functions.api.handler import lambda_handler
    from tests.unit.conftest import LambdaContextStub, api_event

    response = lambda_handler(api_event(method, path, body=body, role=role, account_id=account_id),
                              LambdaContextStub())
    return {"status": response["statusCode"], "body": json.loads(response["body"] or "null")}


def run(recipients: int) -> dict[str, Any]:
    _environment()
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(**table_definition("DataTable", TABLE))
        dynamodb.create_table(**table_definition("IdempotencyTable", IDEMPOTENCY_TABLE))
        sqs = boto3.client("sqs")
        queue_url = sqs.create_queue(QueueName="bench-gift-sends")["QueueUrl"]
        os.environ["GIFT_SEND_QUEUE_URL"] = queue_url

        _call("POST", "/admin/catalog/sync", None, "admin")
        account_id = _call("POST", "/admin/accounts", {"name": "Bench"}, "admin")["body"]["account_id"]
        _call("POST", f"/admin/accounts/{account_id}/gift-approval", {"approved": True}, "admin")
        _call("POST", f"/admin/accounts/{account_id}/credits", {"amount": 4_500 * recipients, "reference": "b"},
              "admin")
        promotion = _call("POST", "/promotions", {"name": "Bench"}, "account", account_id)["body"]["promotion_id"]
        body = {"promotion_id": promotion, "gift_id": "SBX-COFFEE", "title": "Winner", "content": "Congratulations",
                "recipients": [{"phone": f"010-{5000 + i // 10_000:04d}-{i % 10_000:04d}"} for i in range(recipients)]}
        # Fresh clients so every request below goes through the counting session.
        from functions.api import dependencies
        from functions.send_gift import handler as consumer

        dependencies.clear_caches()
        consumer.processing.cache_clear()
        counter = CallCounter()
        counter.attach()

        started = time.perf_counter()
        accepted = _call("POST", "/gift-sends", body, "account", account_id)
        api_seconds = time.perf_counter() - started
        assert accepted["status"] == 202, accepted
        api_requests = counter.total()
        api = {"requests": api_requests, "by_operation": dict(counter.requests)}
        counter.reset()

        from tests.unit.conftest import LambdaContextStub, drain_queue, sqs_event

        queue_client = boto3.client("sqs")
        messages = drain_queue(queue_client, queue_url)
        counter.reset()  # draining is Lambda's event source mapping, not this service's requests
        started = time.perf_counter()
        for start in range(0, len(messages), 5):  # the template's BatchSize
            consumer.lambda_handler(sqs_event(messages[start:start + 5]), LambdaContextStub())
        background_seconds = time.perf_counter() - started
        background_requests = counter.total()
        background = {
            "requests": background_requests, "by_operation": dict(counter.requests),
            "provider_requests": dict(counter.provider_requests),
            "write_units": counter.write_units, "balance_writes": counter.balance_writes,
        }
        send = _call("GET", f"/gift-sends/{accepted['body']['send_id']}", None, "account", account_id)["body"]
        return {
            "recipients": recipients, "api_call": api, "background": background, "final_counts": send["counts"],
            "aws_requests_per_recipient": round((api_requests + background_requests) / recipients, 4),
            "balance_writes_per_recipient": round(counter.balance_writes / recipients, 4),
            "api_seconds": round(api_seconds, 2), "background_seconds": round(background_seconds, 2),
        }


if __name__ == "__main__":
    print(json.dumps(run(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000), indent=2))
