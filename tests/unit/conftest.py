"""Unit tests: the real code against moto, in-process. No network: sockets beyond loopback are refused."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.conftest import table_definition

TABLE = "test-data"
IDEMPOTENCY_TABLE = "test-idempotency"
ADMIN_KEY = "admin-test-key-0123456789"
ADMIN_PARAMETER = "/win-notifications/admin-api-key"

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: Any) -> Any:
    host = address[0] if isinstance(address, tuple) else address
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise RuntimeError(f"unit tests may not reach the network ({host})")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """moto with the template's tables, the send queue and the admin key parameter."""
    for name, value in {
        "AWS_DEFAULT_REGION": "ap-northeast-2",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "TABLE_NAME": TABLE,
        "IDEMPOTENCY_TABLE_NAME": IDEMPOTENCY_TABLE,
        "ADMIN_API_KEY_PARAMETER": ADMIN_PARAMETER,
        "EVENT_BUS_NAME": "default",
        "RECIPIENTS_PER_BATCH": "5",
        "PROVIDER_RETRY_BASE_SECONDS": "0",
        "POWERTOOLS_SERVICE_NAME": "win-notifications-test",
        "POWERTOOLS_METRICS_NAMESPACE": "WinNotificationsTest",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_IDEMPOTENCY_DISABLED": "false",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(**table_definition("DataTable", TABLE))
        dynamodb.create_table(**table_definition("IdempotencyTable", IDEMPOTENCY_TABLE))
        sqs = boto3.client("sqs")
        queue_url = sqs.create_queue(QueueName="gift-sends")["QueueUrl"]
        monkeypatch.setenv("GIFT_SEND_QUEUE_URL", queue_url)
        notification_queue_url = sqs.create_queue(QueueName="notification-sends")["QueueUrl"]
        monkeypatch.setenv("NOTIFICATION_SEND_QUEUE_URL", notification_queue_url)
        boto3.client("sesv2").create_email_identity(EmailIdentity="win-notifications.example")
        boto3.client("ssm").put_parameter(Name=ADMIN_PARAMETER, Value=ADMIN_KEY, Type="SecureString")
        _clear_caches()
        yield {"dynamodb": dynamodb, "sqs": sqs, "queue_url": queue_url,
               "notification_queue_url": notification_queue_url}
        _clear_caches()


def _clear_caches() -> None:
    from aws_lambda_powertools.utilities import parameters

    from functions.api import dependencies
    from functions.authorizer import handler as authorizer
    from functions.dispatch_due import handler as dispatch_due
    from functions.send_gift import handler as send_gift
    from functions.send_notification import handler as send_notification
    from shared import settings

    dependencies.clear_caches()
    authorizer.data_store.cache_clear()
    authorizer.parameter_store.cache_clear()
    send_gift.processing.cache_clear()
    send_notification.processing.cache_clear()
    dispatch_due.dependencies.cache_clear()
    for cached in (settings.api_settings, settings.authorizer_settings, settings.gift_consumer_settings,
                   settings.catalog_sync_settings, settings.dispatcher_settings,
                   settings.notification_consumer_settings):
        cached.cache_clear()
    parameters.clear_caches()


def drain_queue(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Every message now on the queue, deleted as read."""
    messages: list[dict[str, Any]] = []
    while True:
        response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
        batch = response.get("Messages", [])
        if not batch:
            return messages
        for message in batch:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        messages.extend(batch)


def sqs_event(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1", "SenderId": "x",
                               "ApproximateFirstReceiveTimestamp": "1"},
                "messageAttributes": {},
                "md5OfBody": "x",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:ap-northeast-2:123456789012:gift-sends",
                "awsRegion": "ap-northeast-2",
            }
            for m in messages
        ]
    }


class _LambdaContextStub:
    function_name = "test"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:ap-northeast-2:123456789012:function:test"
    aws_request_id = "req-1"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 60_000


# Typed as Any: handlers expect Powertools' LambdaContext, which this stub imitates.
LambdaContextStub: Any = _LambdaContextStub


def api_event(
    method: str,
    path: str,
    *,
    body: Any = None,
    role: str | None = "account",
    account_id: str = "",
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    raw_body: str | None = None,
) -> dict[str, Any]:
    """A REST API proxy event as API Gateway sends it after the authorizer ran."""
    authorizer = {"role": role, "account_id": account_id, "principalId": account_id or "admin"} if role else None
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {k: [v] for k, v in all_headers.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/v1{path}",
            "stage": "v1",
            "requestId": "request-1",
            "identity": {"sourceIp": "127.0.0.1"},
            "authorizer": authorizer,
        },
        "body": raw_body if raw_body is not None else (json.dumps(body) if body is not None else None),
        "isBase64Encoded": False,
    }
