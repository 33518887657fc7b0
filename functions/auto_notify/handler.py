"""EventBridge rule target: a WinnersRecorded event starts the promotion's automatic notification."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from shared.adapters.aws_clients import aws_client
from shared.adapters.queue import WorkQueue
from shared.adapters.store import DataStore
from shared.domain.promotions.winners import notify_winners
from shared.observability import service_logger
from shared.settings import auto_notify_settings

logger = service_logger()


class WinnersRecorded(BaseModel):
    account_id: str
    promotion_id: str
    draw_id: str


class WinnersRecordedEvent(BaseModel):
    """The EventBridge envelope: only its detail is read (other fields ignored, as pydantic does by default)."""

    detail: WinnersRecorded


@cache
def dependencies() -> tuple[DataStore, WorkQueue, int]:
    settings = auto_notify_settings()
    store = DataStore(aws_client("dynamodb"), settings.table_name)
    return (
        store,
        WorkQueue(aws_client("sqs"), settings.notification_send_queue_url),
        settings.notification_recipients_per_batch,
    )


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    store, queue, batch_size = dependencies()
    draw = WinnersRecordedEvent.model_validate(event).detail
    sent = notify_winners(store, queue, draw.account_id, draw.promotion_id, draw.draw_id, batch_size)
    logger.info("automatic notification", extra={"draw_id": draw.draw_id, "send_id": sent and sent.send_id})
    return {"send_id": sent.send_id if sent else None}
