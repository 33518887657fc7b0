"""SQS consumer of the account events the service's bus routes to webhooks (WebhookEventRule): each message is one
EventBridge event; its events become deliveries, and a batch's events also check whether their send completed."""

from __future__ import annotations

import json
from datetime import datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.adapters.aws_clients import aws_client
from shared.adapters.events import EventPublisher
from shared.adapters.queue import WebhookDeliveryQueue
from shared.adapters.store import DataStore
from shared.domain.events.account_events import published_events
from shared.domain.webhooks.webhook_delivery import take_published
from shared.observability import service_logger
from shared.settings import webhook_events_settings

logger = service_logger()


@cache
def dependencies() -> tuple[DataStore, WebhookDeliveryQueue, EventPublisher]:
    settings = webhook_events_settings()
    return (
        DataStore(aws_client("dynamodb"), settings.table_name),
        WebhookDeliveryQueue(aws_client("sqs"), settings.webhook_delivery_queue_url),
        EventPublisher(aws_client("events"), settings.event_bus_name),
    )


def record_handler(body: str) -> None:
    event: dict[str, Any] = json.loads(body)
    published = published_events(
        str(event.get("detail-type", "")), event.get("detail") or {}, datetime.fromisoformat(event["time"])
    )
    if published is None:
        logger.warning("not an account event", extra={"detail_type": event.get("detail-type")})
        return
    added = take_published(*dependencies(), published)
    logger.info("events taken", extra={"events": len(published.events), "deliveries": added})


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    processor = BatchProcessor(event_type=EventType.SQS)

    def handle(record: SQSRecord) -> None:
        record_handler(record.body)

    return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)
