"""SQS consumer of delivery reports: SES's events (through the EventBridge rule) and the report poller's
messages. A report that came before its recipient was settled fails its record, so SQS hands it over again."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from shared.adapters.aws_clients import aws_client
from shared.adapters.events import EventPublisher
from shared.adapters.queue import ReportMessage
from shared.adapters.ses_events import report_from_ses_event
from shared.adapters.store import DataStore
from shared.domain.reports.delivery_reports import RetryPolicy, apply_reports
from shared.models.reports import DeliveryReport
from shared.observability import service_logger
from shared.settings import delivery_report_settings

logger = service_logger()


@cache
def dependencies() -> tuple[DataStore, RetryPolicy, EventPublisher]:
    settings = delivery_report_settings()
    store = DataStore(aws_client("dynamodb"), settings.table_name)
    publisher = EventPublisher(aws_client("events"), settings.event_bus_name)
    return store, RetryPolicy(settings.auto_retry_rounds, settings.auto_retry_base_seconds), publisher


def reports_in(body: str) -> list[DeliveryReport]:
    """The reports a queue message carries: an SES event (one, or none when it is not final) or a poll's list."""
    try:
        return ReportMessage.model_validate_json(body).reports
    except ValidationError:
        pass
    event: Any = json.loads(body)
    report = report_from_ses_event(event) if isinstance(event, dict) else None
    return [report] if report else []


def record_handler(record: dict[str, Any]) -> None:
    store, retry, publisher = dependencies()
    effects = apply_reports(store, reports_in(record["body"]), retry, publisher)
    logger.info("reports applied", extra={"effects": [e.value for e in effects]})


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    processor = BatchProcessor(event_type=EventType.SQS)

    def handle(record: SQSRecord) -> None:  # the processor passes it by this name
        record_handler(record.raw_event)

    return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
