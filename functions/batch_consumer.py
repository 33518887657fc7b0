"""The SQS consumer both send queues share: each message is one batch job, failures reported per message."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from aws_lambda_powertools.utilities.parser.types import Json
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.domain.batch_processing import MetricSink
from shared.domain.sends import BatchJob


class BatchJobRecord(SqsRecordModel):
    body: Json[BatchJob]


def metric_sink(metrics: Metrics) -> MetricSink:
    """Powertools metrics as the domain's MetricSink (the send kind, GIFT or NOTIFICATION, as dimension)."""
    lock = threading.Lock()  # recipients are delivered on several threads

    def record(name: str, value: float, unit: str, dimension: str | None = None) -> None:
        with lock:
            if dimension:
                metrics.add_metadata("kind", dimension)
            metrics.add_metric(name=name, unit=unit, value=value)

    return record


def consume(
    event: dict[str, Any], context: LambdaContext, logger: Logger, process: Callable[[BatchJob], None]
) -> PartialItemFailureResponse:
    """Runs `process` for every record; a record that raises is retried by SQS (then the dead-letter queue)."""

    def record_handler(record: BatchJobRecord) -> None:
        job = record.body
        logger.append_keys(send_id=job.send_id, batch_no=job.batch_no)
        process(job)

    processor = BatchProcessor(event_type=EventType.SQS, model=BatchJobRecord)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
