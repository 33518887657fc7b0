"""SQS consumer of webhook delivery jobs: one signed POST per job, when its delivery is due (shared.domain.
webhook_delivery.deliver); a failed attempt is scheduled again there, so a record fails only on our own errors."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.adapters.aws_clients import aws_client
from shared.adapters.kms_cipher import KmsSecretCipher
from shared.adapters.queue import WebhookDeliveryQueue
from shared.adapters.store import DataStore
from shared.adapters.webhook_http import WebhookPoster
from shared.domain.webhooks.webhook_delivery import DeliveryJob, RetrySchedule, deliver
from shared.observability import service_logger
from shared.settings import webhook_delivery_settings

logger = service_logger()


@cache
def dependencies() -> tuple[DataStore, KmsSecretCipher, WebhookPoster, WebhookDeliveryQueue, RetrySchedule]:
    settings = webhook_delivery_settings()
    return (
        DataStore(aws_client("dynamodb"), settings.table_name),
        KmsSecretCipher(aws_client("kms"), settings.webhook_secret_key_id),
        WebhookPoster(
            production=settings.production,
            timeout_seconds=settings.webhook_timeout_seconds,
            loopback_only=settings.webhook_loopback_only,
        ),
        WebhookDeliveryQueue(aws_client("sqs"), settings.webhook_delivery_queue_url),
        RetrySchedule(settings.webhook_retry_delays),
    )


def record_handler(record: SQSRecord) -> None:
    store, cipher, poster, queue, schedule = dependencies()
    job = DeliveryJob.model_validate_json(record.body)
    result = deliver(store, cipher, poster, queue, job, schedule)
    logger.info("webhook delivery", extra={"delivery_id": job.delivery_id, "result": result.value})


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    processor = BatchProcessor(event_type=EventType.SQS)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
