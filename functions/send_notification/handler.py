"""SQS consumer: each message is one batch of one notification send."""

from __future__ import annotations

from functools import cache
from typing import Any

from functions.batch_consumer import batch_handler, batch_worker
from shared.adapters.providers import notification_sender_from_settings
from shared.domain.notifications.notification_processing import NotificationPayment
from shared.domain.notifications.sender import NotificationSender
from shared.domain.sends.batch_processing import BatchWorker
from shared.observability import service_logger
from shared.settings import NotificationConsumerSettings, notification_consumer_settings

logger = service_logger()


def _sender(settings: NotificationConsumerSettings, client: Any, table_name: str) -> NotificationSender:
    return notification_sender_from_settings(settings, client, table_name, concurrency=settings.provider_concurrency)


@cache
def processing() -> BatchWorker:
    return batch_worker(notification_consumer_settings(), _sender, NotificationPayment)


# `processing` is looked up for every job, not bound once: tests and the benchmark replace it.
lambda_handler = batch_handler(logger, lambda: processing())
