"""One settings model per function, read from the environment once and cached (cache_clear() in tests)."""

from __future__ import annotations

import os
from functools import cache
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.domain.accounts.fair_use import RequestLimit
from shared.domain.webhooks.webhook_delivery import PRODUCTION_DELAYS


class _EnvSettings(BaseModel):
    # defer_build: each function validates only its own settings model, so only that one is built.
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True, defer_build=True)

    @classmethod
    def from_environment(cls) -> Self:
        return cls.model_validate(dict(os.environ))


class ProviderRateSettings(_EnvSettings):
    """How many instances may call a provider at once: the send consumer's MaximumConcurrency (PROVIDER_INSTANCES).
    Each instance holds its share of a provider's requests-per-second (shared.adapters.rate_limit); 0 or unset
    means no limit (the API function's rare admin catalog sync, unit tests)."""

    provider_instances: int = Field(1, alias="PROVIDER_INSTANCES", ge=1, le=1000)


class GiftProviderSettings(ProviderRateSettings):
    """The sandbox, or Giftishow Biz: its endpoint, the secret with its credentials (JSON: custom_auth_code,
    custom_auth_token, user_id), test mode (dev_yn Y) and the registered callback (sender) number."""

    gift_provider: Literal["sandbox", "giftishow"] = Field("sandbox", alias="GIFT_PROVIDER")
    gift_provider_endpoint: str = Field("https://bizapi.giftishow.com/bizApi", alias="GIFT_PROVIDER_ENDPOINT")
    gift_provider_secret_arn: str = Field("", alias="GIFT_PROVIDER_SECRET_ARN")
    giftishow_dev_yn: Literal["", "Y", "N"] = Field("", alias="GIFTISHOW_DEV_YN")  # giftishow needs Y or N
    giftishow_callback_number: str = Field("", alias="GIFTISHOW_CALLBACK_NUMBER")
    gift_provider_requests_per_second: float = Field(0, alias="GIFT_PROVIDER_REQUESTS_PER_SECOND", ge=0)

    @field_validator("gift_provider_endpoint", mode="before")
    @classmethod
    def _default_endpoint(cls, value: Any) -> Any:
        return value or "https://bizapi.giftishow.com/bizApi"  # a template parameter left empty


class NotificationProviderSettings(ProviderRateSettings):
    notification_provider: Literal["sandbox", "solapi"] = Field("sandbox", alias="NOTIFICATION_PROVIDER")
    solapi_endpoint: str = Field("https://api.solapi.com", alias="SOLAPI_ENDPOINT", min_length=1)
    solapi_secret_arn: str = Field("", alias="SOLAPI_SECRET_ARN")  # JSON {"api_key": ..., "api_secret": ...}
    sms_sender_number: str = Field("", alias="SMS_SENDER_NUMBER")  # the number registered with Solapi
    email_from_address: str = Field("no-reply@win-notifications.example", alias="EMAIL_FROM_ADDRESS", min_length=3)
    ses_configuration_set: str = Field("", alias="SES_CONFIGURATION_SET")
    sms_provider_requests_per_second: float = Field(0, alias="SMS_PROVIDER_REQUESTS_PER_SECOND", ge=0)
    email_send_rate_per_second: float = Field(0, alias="EMAIL_SEND_RATE_PER_SECOND", ge=0)


class UserPoolSettings(_EnvSettings):
    """The dashboard's Cognito user pool and app client; COGNITO_ENDPOINT is the IdP's base URL (empty: AWS's,
    https://cognito-idp.<region>.amazonaws.com; the local stack sets MiniStack's)."""

    user_pool_id: str = Field("", alias="USER_POOL_ID", pattern=r"^$|^[\w-]+_[0-9a-zA-Z]+$")
    user_pool_client_id: str = Field("", alias="USER_POOL_CLIENT_ID")
    cognito_endpoint: str = Field("", alias="COGNITO_ENDPOINT")


class WebhookSettings(_EnvSettings):
    """Where webhook deliveries are queued, and the key their signing secrets are encrypted with."""

    webhook_delivery_queue_url: str = Field(alias="WEBHOOK_DELIVERY_QUEUE_URL", min_length=1)
    webhook_secret_key_id: str = Field(alias="WEBHOOK_SECRET_KEY_ID", min_length=1)
    # Production allows only https:// endpoints on public addresses; elsewhere also http://127.0.0.1 and localhost.
    production: bool = Field(True, alias="PRODUCTION")


class ApiSettings(GiftProviderSettings, UserPoolSettings, WebhookSettings):
    table_name: str = Field(alias="TABLE_NAME", min_length=3)
    idempotency_table_name: str = Field(alias="IDEMPOTENCY_TABLE_NAME", min_length=3)
    gift_send_queue_url: str = Field(alias="GIFT_SEND_QUEUE_URL", min_length=1)
    notification_send_queue_url: str = Field(alias="NOTIFICATION_SEND_QUEUE_URL", min_length=1)
    event_bus_name: str = Field("default", alias="EVENT_BUS_NAME")
    recipients_per_batch: int = Field(50, alias="RECIPIENTS_PER_BATCH", ge=1, le=100)
    notification_recipients_per_batch: int = Field(200, alias="NOTIFICATION_RECIPIENTS_PER_BATCH", ge=1, le=500)
    sms_unit_credits: int = Field(20, alias="SMS_UNIT_CREDITS", ge=0)
    lms_unit_credits: int = Field(50, alias="LMS_UNIT_CREDITS", ge=0)
    email_unit_credits: int = Field(5, alias="EMAIL_UNIT_CREDITS", ge=0)
    # Fair use per account (template parameters AccountRequestsPerSecond, AccountRequestBurst).
    account_requests_per_second: float = Field(50, alias="ACCOUNT_REQUESTS_PER_SECOND", gt=0)
    account_request_burst: int = Field(100, alias="ACCOUNT_REQUEST_BURST", ge=1)

    @property
    def request_limit(self) -> RequestLimit:
        return RequestLimit(per_second=self.account_requests_per_second, burst=self.account_request_burst)


class AuthorizerSettings(UserPoolSettings):
    table_name: str = Field(alias="TABLE_NAME", min_length=3)
    admin_api_key_parameter: str = Field(alias="ADMIN_API_KEY_PARAMETER", min_length=1)


class WorkerSettings(_EnvSettings):
    """What both SQS consumers need besides their provider."""

    table_name: str = Field(alias="TABLE_NAME", min_length=3)
    event_bus_name: str = Field("default", alias="EVENT_BUS_NAME")
    provider_max_attempts: int = Field(3, alias="PROVIDER_MAX_ATTEMPTS", ge=1, le=10)
    provider_retry_base_seconds: float = Field(0.2, alias="PROVIDER_RETRY_BASE_SECONDS", ge=0)
    provider_concurrency: int = Field(8, alias="PROVIDER_CONCURRENCY", ge=1, le=64)
    auto_retry_rounds: int = Field(3, alias="AUTO_RETRY_ROUNDS", ge=0, le=10)
    auto_retry_base_seconds: float = Field(60, alias="AUTO_RETRY_BASE_SECONDS", ge=0)

    def worker_options(self) -> dict[str, Any]:
        return {
            "max_attempts": self.provider_max_attempts,
            "retry_base_seconds": self.provider_retry_base_seconds,
            "concurrency": self.provider_concurrency,
            "auto_retry_rounds": self.auto_retry_rounds,
            "auto_retry_base_seconds": self.auto_retry_base_seconds,
        }


class GiftConsumerSettings(GiftProviderSettings, WorkerSettings):
    pass


class NotificationConsumerSettings(NotificationProviderSettings, WorkerSettings):
    pass


class DeliveryReportSettings(_EnvSettings):
    table_name: str = Field(alias="TABLE_NAME", min_length=3)
    event_bus_name: str = Field("default", alias="EVENT_BUS_NAME")
    auto_retry_rounds: int = Field(3, alias="AUTO_RETRY_ROUNDS", ge=0, le=10)
    auto_retry_base_seconds: float = Field(60, alias="AUTO_RETRY_BASE_SECONDS", ge=0)


class ReportPollerSettings(NotificationProviderSettings):
    table_name: str = Field(alias="TABLE_NAME", min_length=3)
    delivery_report_queue_url: str = Field(alias="DELIVERY_REPORT_QUEUE_URL", min_length=1)


class DispatcherSettings(_EnvSettings):
    table_name: str = Field(alias="TABLE_NAME", min_length=3)
    event_bus_name: str = Field("default", alias="EVENT_BUS_NAME")
    gift_send_queue_url: str = Field(alias="GIFT_SEND_QUEUE_URL", min_length=1)
    notification_send_queue_url: str = Field(alias="NOTIFICATION_SEND_QUEUE_URL", min_length=1)
    webhook_delivery_queue_url: str = Field(alias="WEBHOOK_DELIVERY_QUEUE_URL", min_length=1)


class WebhookEventsSettings(_EnvSettings):
    table_name: str = Field(alias="TABLE_NAME", min_length=3)
    event_bus_name: str = Field("default", alias="EVENT_BUS_NAME")
    webhook_delivery_queue_url: str = Field(alias="WEBHOOK_DELIVERY_QUEUE_URL", min_length=1)


class WebhookDeliverySettings(WebhookSettings):
    table_name: str = Field(alias="TABLE_NAME", min_length=3)
    # Seconds to wait after the 1st, 2nd, ... failed attempt (each +-20%); production keeps the default.
    webhook_retry_delays: tuple[float, ...] = Field(PRODUCTION_DELAYS, alias="WEBHOOK_RETRY_DELAYS", min_length=1)
    webhook_timeout_seconds: float = Field(10, alias="WEBHOOK_TIMEOUT_SECONDS", gt=0, le=10)
    webhook_loopback_only: bool = Field(False, alias="WEBHOOK_LOOPBACK_ONLY")

    @field_validator("webhook_retry_delays", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return tuple(float(v) for v in value.split(",")) if isinstance(value, str) else value


class RetryJobSettings(_EnvSettings):
    table_name: str = Field(alias="TABLE_NAME", min_length=3)
    gift_send_queue_url: str = Field(alias="GIFT_SEND_QUEUE_URL", min_length=1)
    notification_send_queue_url: str = Field(alias="NOTIFICATION_SEND_QUEUE_URL", min_length=1)
    auto_retry_rounds: int = Field(3, alias="AUTO_RETRY_ROUNDS", ge=0, le=10)


class AutoNotifySettings(_EnvSettings):
    table_name: str = Field(alias="TABLE_NAME", min_length=3)
    notification_send_queue_url: str = Field(alias="NOTIFICATION_SEND_QUEUE_URL", min_length=1)
    notification_recipients_per_batch: int = Field(200, alias="NOTIFICATION_RECIPIENTS_PER_BATCH", ge=1, le=500)


class CatalogSyncSettings(GiftProviderSettings):
    table_name: str = Field(alias="TABLE_NAME", min_length=3)


@cache
def api_settings() -> ApiSettings:
    return ApiSettings.from_environment()


@cache
def authorizer_settings() -> AuthorizerSettings:
    return AuthorizerSettings.from_environment()


@cache
def gift_consumer_settings() -> GiftConsumerSettings:
    return GiftConsumerSettings.from_environment()


@cache
def catalog_sync_settings() -> CatalogSyncSettings:
    return CatalogSyncSettings.from_environment()


@cache
def dispatcher_settings() -> DispatcherSettings:
    return DispatcherSettings.from_environment()


@cache
def notification_consumer_settings() -> NotificationConsumerSettings:
    return NotificationConsumerSettings.from_environment()


@cache
def auto_notify_settings() -> AutoNotifySettings:
    return AutoNotifySettings.from_environment()


@cache
def retry_job_settings() -> RetryJobSettings:
    return RetryJobSettings.from_environment()


@cache
def delivery_report_settings() -> DeliveryReportSettings:
    return DeliveryReportSettings.from_environment()


@cache
def report_poller_settings() -> ReportPollerSettings:
    return ReportPollerSettings.from_environment()


@cache
def webhook_events_settings() -> WebhookEventsSettings:
    return WebhookEventsSettings.from_environment()


@cache
def webhook_delivery_settings() -> WebhookDeliverySettings:
    return WebhookDeliverySettings.from_environment()
