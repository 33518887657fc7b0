"""SQS consumer: each message is one batch of one gift send; failures are reported per message."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.parser.types import Json
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.adapters.dynamo import DataStore
from shared.adapters.events import EventPublisher
from shared.adapters.providers import gift_provider_from_settings
from shared.domain.gift_processing import GiftProcessing, process_gift_batch
from shared.domain.sends import BatchJob
from shared.settings import gift_consumer_settings

logger = Logger()
tracer = Tracer()
metrics = Metrics(namespace="WinNotifications")


class GiftBatchRecord(SqsRecordModel):
    body: Json[BatchJob]


processor = BatchProcessor(event_type=EventType.SQS, model=GiftBatchRecord)


@cache
def processing() -> GiftProcessing:
    settings = gift_consumer_settings()
    client = boto3.client("dynamodb")
    return GiftProcessing(
        store=DataStore(client, settings.table_name),
        provider=gift_provider_from_settings(settings, client, settings.table_name),
        max_attempts=settings.provider_max_attempts,
        retry_base_seconds=settings.provider_retry_base_seconds,
        concurrency=settings.provider_concurrency,
        auto_retry_rounds=settings.auto_retry_rounds,
        auto_retry_base_seconds=settings.auto_retry_base_seconds,
        publisher=EventPublisher(boto3.client("events"), settings.event_bus_name),
    )


def record_handler(record: GiftBatchRecord) -> None:
    job = record.body
    logger.append_keys(send_id=job.send_id, batch_no=job.batch_no)
    process_gift_batch(processing(), job)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
