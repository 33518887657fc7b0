"""The SQS consumer both send queues share: each message is one batch job, failures reported per message. A send
kind's handler module names only its settings and its payment."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.adapters.aws_clients import aws_client
from shared.adapters.events import EventPublisher
from shared.adapters.store import DataStore
from shared.domain.jobs import BatchJob
from shared.domain.sends.batch_processing import BatchPayment, BatchWorker, MetricSink, process_batch
from shared.settings import WorkerSettings

SettingsT = TypeVar("SettingsT", bound=WorkerSettings)
ProviderT = TypeVar("ProviderT")
# What Lambda calls: the SQS event in, the batch item failures (a PartialItemFailureResponse) out.
LambdaHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]

metrics = Metrics(namespace="WinNotifications")


def metric_sink(metrics: Metrics) -> MetricSink:
    """Powertools metrics as the domain's MetricSink (the send kind, GIFT or NOTIFICATION, as dimension)."""
    lock = threading.Lock()  # recipients are delivered on several threads

    def record(name: str, value: float, unit: str, dimension: str | None = None) -> None:
        with lock:
            if dimension:
                metrics.add_metadata("kind", dimension)
            metrics.add_metric(name=name, unit=unit, value=value)

    return record


def batch_worker(
    settings: SettingsT,
    provider: Callable[[SettingsT, Any, str], ProviderT],
    payment: Callable[[ProviderT], BatchPayment],
) -> BatchWorker:
    """The worker of one send kind: its provider (built from `settings`, with the DynamoDB client and table the
    sandbox providers keep their state in) behind its payment."""
    client = aws_client("dynamodb")
    return BatchWorker(
        store=DataStore(client, settings.table_name),
        payment=payment(provider(settings, client, settings.table_name)),
        publisher=EventPublisher(aws_client("events"), settings.event_bus_name),
        metric=metric_sink(metrics),
        **settings.worker_options(),
    )


def consume(
    event: dict[str, Any], context: LambdaContext, logger: Logger, process: Callable[[BatchJob], None]
) -> PartialItemFailureResponse:
    """Runs `process` for every record; a record that raises is retried by SQS (then the dead-letter queue)."""

    def record_handler(record: SQSRecord) -> None:
        job = BatchJob.model_validate_json(record.body)
        logger.append_keys(send_id=job.send_id, batch_no=job.batch_no)
        process(job)

    processor = BatchProcessor(event_type=EventType.SQS)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)


def batch_handler(logger: Logger, worker: Callable[[], BatchWorker]) -> LambdaHandler:
    """The Lambda handler of one send kind's queue, with its logger and metrics; `worker` is called for
    every job."""

    @logger.inject_lambda_context
    @metrics.log_metrics
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
        return consume(event, context, logger, lambda job: process_batch(worker(), job))

    return lambda_handler
