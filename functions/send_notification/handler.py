"""SQS consumer: each message is one batch of one notification send."""

from __future__ import annotations

from functools import cache

from functions.batch_consumer import batch_handler, batch_worker
from shared.adapters.providers import notification_sender_from_settings
from shared.domain.batch_processing import BatchWorker
from shared.domain.notification_processing import NotificationPayment
from shared.observability import service_logger
from shared.settings import notification_consumer_settings

logger = service_logger()


@cache
def processing() -> BatchWorker:
    return batch_worker(notification_consumer_settings(), notification_sender_from_settings, NotificationPayment)


# `processing` is looked up for every job, not bound once: tests and the benchmark replace it.
lambda_handler = batch_handler(logger, lambda: processing())
