"""SQS consumer: each message is one batch of one gift send."""

from __future__ import annotations

from functools import cache

from functions.batch_consumer import batch_handler, batch_worker
from shared.adapters.providers import gift_provider_from_settings
from shared.domain.gifts.gift_processing import GiftPayment
from shared.domain.sends.batch_processing import BatchWorker
from shared.observability import service_logger
from shared.settings import gift_consumer_settings

logger = service_logger()


@cache
def processing() -> BatchWorker:
    return batch_worker(gift_consumer_settings(), gift_provider_from_settings, GiftPayment)


# `processing` is looked up for every job, not bound once: tests and the benchmark replace it.
lambda_handler = batch_handler(logger, lambda: processing())
