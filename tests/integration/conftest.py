"""Integration tests: the real code against moto and the loopback fakes, in-process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.conftest import table_definition, use_test_aws
from tests.integration.moto_ses import add_send_bulk_email

TABLE = "test-data"
IDEMPOTENCY_TABLE = "test-idempotency"
ADMIN_KEY = "admin-test-key-0123456789"
ADMIN_PARAMETER = "/win-notifications/admin-api-key"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """moto (with SendBulkEmail) and the template's tables, the send queues and the admin key parameter."""
    add_send_bulk_email(monkeypatch)
    use_test_aws(
        monkeypatch,
        TABLE_NAME=TABLE,
        IDEMPOTENCY_TABLE_NAME=IDEMPOTENCY_TABLE,
        ADMIN_API_KEY_PARAMETER=ADMIN_PARAMETER,
        EVENT_BUS_NAME="default",
        # In-process tests call the API faster than any client may; tests/integration/test_fair_use.py sets its own.
        ACCOUNT_REQUESTS_PER_SECOND="1000000",
        ACCOUNT_REQUEST_BURST="2000000",
        RECIPIENTS_PER_BATCH="5",
        NOTIFICATION_RECIPIENTS_PER_BATCH="5",
        PROVIDER_RETRY_BASE_SECONDS="0",
        POWERTOOLS_SERVICE_NAME="win-notifications-test",
        POWERTOOLS_METRICS_NAMESPACE="WinNotificationsTest",
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_IDEMPOTENCY_DISABLED="false",
    )
    with mock_aws():
        dynamodb = boto3.client("dynamodb")
        dynamodb.create_table(**table_definition("DataTable", TABLE))
        dynamodb.create_table(**table_definition("IdempotencyTable", IDEMPOTENCY_TABLE))
        sqs = boto3.client("sqs")
        queue_url = sqs.create_queue(QueueName="gift-sends")["QueueUrl"]
        monkeypatch.setenv("GIFT_SEND_QUEUE_URL", queue_url)
        notification_queue_url = sqs.create_queue(QueueName="notification-sends")["QueueUrl"]
        monkeypatch.setenv("NOTIFICATION_SEND_QUEUE_URL", notification_queue_url)
        webhook_queue_url = sqs.create_queue(QueueName="webhook-deliveries")["QueueUrl"]
        monkeypatch.setenv("WEBHOOK_DELIVERY_QUEUE_URL", webhook_queue_url)
        monkeypatch.setenv("WEBHOOK_SECRET_KEY_ID", boto3.client("kms").create_key()["KeyMetadata"]["KeyId"])
        monkeypatch.setenv("PRODUCTION", "false")
        boto3.client("sesv2").create_email_identity(EmailIdentity="win-notifications.example")
        boto3.client("ssm").put_parameter(Name=ADMIN_PARAMETER, Value=ADMIN_KEY, Type="SecureString")
        _clear_caches()
        yield {
            "dynamodb": dynamodb,
            "sqs": sqs,
            "queue_url": queue_url,
            "notification_queue_url": notification_queue_url,
            "webhook_queue_url": webhook_queue_url,
        }
        _clear_caches()


def _clear_caches() -> None:
    from aws_lambda_powertools.utilities import parameters

    from functions.api import dependencies
    from functions.authorizer import handler as authorizer
    from functions.delivery_reports import handler as delivery_reports
    from functions.dispatch_due import handler as dispatch_due
    from functions.report_poller import handler as report_poller
    from functions.send_gift import handler as send_gift
    from functions.send_notification import handler as send_notification
    from functions.webhook_delivery import handler as webhook_delivery
    from functions.webhook_events import handler as webhook_events
    from shared import settings

    dependencies.clear_caches()
    authorizer.data_store.cache_clear()
    authorizer.user_tokens.cache_clear()
    authorizer.parameter_store.cache_clear()
    send_gift.processing.cache_clear()
    send_notification.processing.cache_clear()
    dispatch_due.dependencies.cache_clear()
    delivery_reports.dependencies.cache_clear()
    report_poller.dependencies.cache_clear()
    webhook_events.dependencies.cache_clear()
    webhook_delivery.dependencies.cache_clear()
    for cached in (
        settings.api_settings,
        settings.authorizer_settings,
        settings.gift_consumer_settings,
        settings.catalog_sync_settings,
        settings.dispatcher_settings,
        settings.notification_consumer_settings,
        settings.delivery_report_settings,
        settings.report_poller_settings,
        settings.webhook_events_settings,
        settings.webhook_delivery_settings,
    ):
        cached.cache_clear()
    parameters.clear_caches()
