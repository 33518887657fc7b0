"""Scheduled retry job: provider errors are resent on their own, with backoff, a bounded number of times,
so a provider outage heals without anyone pressing resend."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.adapters.aws_clients import aws_client
from shared.adapters.queue import WorkQueue
from shared.adapters.store import DataStore
from shared.domain.clock import utc_now
from shared.domain.sends.send_actions import retry_provider_errors
from shared.models.common import SendKind
from shared.observability import service_logger
from shared.settings import retry_job_settings

logger = service_logger()


@cache
def dependencies() -> tuple[DataStore, dict[SendKind, WorkQueue], int]:
    settings = retry_job_settings()
    sqs = aws_client("sqs")
    queues = {
        SendKind.GIFT: WorkQueue(sqs, settings.gift_send_queue_url),
        SendKind.NOTIFICATION: WorkQueue(sqs, settings.notification_send_queue_url),
    }
    return DataStore(aws_client("dynamodb"), settings.table_name), queues, settings.auto_retry_rounds


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    store, queues, rounds = dependencies()
    retried = retry_provider_errors(store, queues, utc_now(), rounds)
    logger.info("provider errors retried", extra={"retried": retried})
    return {"retried": retried}
