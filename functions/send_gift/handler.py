"""SQS consumer: each message is one batch of one gift send."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.batch_consumer import consume, metric_sink
from shared.adapters.aws_clients import aws_client
from shared.adapters.events import EventPublisher
from shared.adapters.providers import gift_provider_from_settings
from shared.adapters.store import DataStore
from shared.domain.batch_processing import BatchWorker, process_batch
from shared.domain.gift_processing import GiftPayment
from shared.domain.sends import BatchJob
from shared.observability import service_logger
from shared.settings import gift_consumer_settings

logger = service_logger()
tracer = Tracer()
metrics = Metrics(namespace="WinNotifications")


@cache
def processing() -> BatchWorker:
    settings = gift_consumer_settings()
    client = aws_client("dynamodb")
    return BatchWorker(
        store=DataStore(client, settings.table_name),
        payment=GiftPayment(gift_provider_from_settings(settings, client, settings.table_name)),
        publisher=EventPublisher(aws_client("events"), settings.event_bus_name),
        metric=metric_sink(metrics),
        **settings.worker_options(),
    )


def process(job: BatchJob) -> None:
    process_batch(processing(), job)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return consume(event, context, logger, process)
