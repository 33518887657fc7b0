"""Choose the gift provider adapter from settings: the sandbox (default) or a real B2B HTTP API."""

from __future__ import annotations

from typing import Any

from shared.adapters.gift_provider import GiftProvider, SandboxGiftProvider
from shared.settings import GiftProviderSettings


def gift_provider_from_settings(settings: GiftProviderSettings, dynamodb_client: Any, table_name: str) -> GiftProvider:
    if settings.gift_provider == "http":
        from aws_lambda_powertools.utilities.parameters import get_secret

        from shared.adapters.http_gift_provider import HttpGiftProvider

        api_key = str(get_secret(settings.gift_provider_secret_arn, max_age=300))
        return HttpGiftProvider(settings.gift_provider_endpoint, api_key)
    return SandboxGiftProvider(dynamodb_client, table_name)
