"""Every minute: start due scheduled sends, recover sends whose enqueue was interrupted, publish events left in
the outbox and queue webhook deliveries that are due."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.adapters.aws_clients import aws_client
from shared.adapters.events import EventPublisher
from shared.adapters.queue import WebhookDeliveryQueue, WorkQueue
from shared.adapters.store import DataStore, DispatchIndex
from shared.domain.clock import utc_now
from shared.domain.sends.dispatch import run_periodic_dispatch
from shared.models.common import SendKind
from shared.observability import service_logger
from shared.settings import dispatcher_settings

logger = service_logger()


@cache
def dependencies() -> tuple[DataStore, DispatchIndex, dict[SendKind, WorkQueue], EventPublisher, WebhookDeliveryQueue]:
    settings = dispatcher_settings()
    client = aws_client("dynamodb")
    sqs = aws_client("sqs")
    queues = {
        SendKind.GIFT: WorkQueue(sqs, settings.gift_send_queue_url),
        SendKind.NOTIFICATION: WorkQueue(sqs, settings.notification_send_queue_url),
    }
    publisher = EventPublisher(aws_client("events"), settings.event_bus_name)
    deliveries = WebhookDeliveryQueue(sqs, settings.webhook_delivery_queue_url)
    store, index = DataStore(client, settings.table_name), DispatchIndex(client, settings.table_name)
    return store, index, queues, publisher, deliveries


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    result = run_periodic_dispatch(*dependencies(), utc_now())
    logger.info("dispatch run", extra=result)
    return result
