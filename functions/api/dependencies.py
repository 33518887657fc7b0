"""The API function's adapters, built once per container from its validated settings."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

from shared.adapters.aws_clients import aws_client
from shared.adapters.cognito import CognitoUserDirectory
from shared.adapters.events import EventPublisher
from shared.adapters.kms_cipher import KmsSecretCipher
from shared.adapters.providers import gift_provider_from_settings
from shared.adapters.queue import WebhookDeliveryQueue, WorkQueue
from shared.adapters.store import DataStore
from shared.domain.gifts.provider import GiftProvider
from shared.settings import api_settings


@cache
def dynamodb_client() -> Any:
    return aws_client("dynamodb")


@cache
def data_store() -> DataStore:
    return DataStore(dynamodb_client(), api_settings().table_name)


@cache
def gift_send_queue() -> WorkQueue:
    return WorkQueue(aws_client("sqs"), api_settings().gift_send_queue_url)


@cache
def notification_send_queue() -> WorkQueue:
    return WorkQueue(aws_client("sqs"), api_settings().notification_send_queue_url)


@cache
def gift_provider() -> GiftProvider:
    return gift_provider_from_settings(api_settings(), dynamodb_client(), api_settings().table_name)


@cache
def secret_cipher() -> KmsSecretCipher:
    return KmsSecretCipher(aws_client("kms"), api_settings().webhook_secret_key_id)


@cache
def webhook_delivery_queue() -> WebhookDeliveryQueue:
    return WebhookDeliveryQueue(aws_client("sqs"), api_settings().webhook_delivery_queue_url)


@cache
def event_publisher() -> EventPublisher:
    return EventPublisher(aws_client("events"), api_settings().event_bus_name)


@cache
def user_directory() -> CognitoUserDirectory:
    return CognitoUserDirectory(aws_client("cognito-idp"), api_settings().user_pool_id)


@cache
def idempotency_store() -> DynamoDBPersistenceLayer:
    return DynamoDBPersistenceLayer(table_name=api_settings().idempotency_table_name, boto3_client=dynamodb_client())


IDEMPOTENCY_CONFIG = IdempotencyConfig(
    event_key_jmespath="[account_id, operation, idempotency_key]",
    payload_validation_jmespath="body",
    expires_after_seconds=24 * 60 * 60,
)


def clear_caches() -> None:
    for cached in (
        dynamodb_client,
        data_store,
        gift_send_queue,
        notification_send_queue,
        gift_provider,
        idempotency_store,
        event_publisher,
        user_directory,
        secret_cipher,
        webhook_delivery_queue,
    ):
        cached.cache_clear()
    api_settings.cache_clear()
