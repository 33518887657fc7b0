"""Daily schedule: pull the gift provider's catalog (prices change, items get discontinued)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.adapters.aws_clients import aws_client
from shared.adapters.providers import gift_provider_from_settings
from shared.adapters.store import DataStore
from shared.domain.gifts.catalog import sync_catalog
from shared.observability import service_logger
from shared.settings import catalog_sync_settings

logger = service_logger()


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = catalog_sync_settings()
    client = aws_client("dynamodb")
    result = sync_catalog(
        DataStore(client, settings.table_name), gift_provider_from_settings(settings, client, settings.table_name)
    )
    logger.info("catalog synced", extra=result.model_dump())
    return result.model_dump()
