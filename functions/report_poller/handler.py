"""Every minute: fetch the SMS provider's delivery reports (Solapi's message lists, or the sandbox's) and queue
them for the delivery-report consumer."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.adapters.aws_clients import aws_client
from shared.adapters.providers import report_source_from_settings
from shared.adapters.queue import ReportQueue
from shared.domain.clock import utc_now
from shared.domain.notifications.sender import ReportSource
from shared.observability import service_logger
from shared.settings import report_poller_settings

logger = service_logger()


@cache
def dependencies() -> tuple[ReportSource, ReportQueue]:
    settings = report_poller_settings()
    source = report_source_from_settings(settings, aws_client("dynamodb"), settings.table_name)
    return source, ReportQueue(aws_client("sqs"), settings.delivery_report_queue_url)


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    source, queue = dependencies()
    published = source.poll(utc_now(), queue.publish)
    logger.info("reports polled", extra={"published": published})
    return {"published": published}
