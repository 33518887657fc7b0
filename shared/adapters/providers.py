"""Choose the provider adapters from settings: the sandbox (the default), or Giftishow Biz, Solapi and SES.

Each adapter gets this instance's share of its provider's rate limit (shared.adapters.rate_limit). The gift and SMS
providers are also read by one scheduled function (the catalog sync, the report poller), counted as one more
instance; SES is called by the notification consumer only."""

from __future__ import annotations

from typing import Any

from shared.adapters.aws_clients import aws_client
from shared.adapters.gift_provider import SandboxGiftProvider
from shared.adapters.notification_delivery import ChannelRouter, SnsSmsSender
from shared.adapters.rate_limit import TokenBucket, instance_share
from shared.adapters.sandbox_notifications import SandboxNotificationSender, SandboxReportSource
from shared.adapters.ses_email import SesBulkEmailSender
from shared.adapters.ses_events import SandboxSesEventBus
from shared.adapters.solapi import SolapiApi, SolapiCredentials, SolapiReportSource, SolapiSender
from shared.domain.gifts.provider import GiftProvider
from shared.domain.notifications.sender import NotificationSender, ReportSource
from shared.settings import GiftProviderSettings, NotificationProviderSettings

_SCHEDULED_READERS = 1  # the catalog sync (gifts), the report poller (SMS)


def _bucket(limit: float, instances: int) -> TokenBucket | None:
    return TokenBucket(instance_share(limit, instances)) if limit > 0 else None


def gift_limiter(settings: GiftProviderSettings) -> TokenBucket | None:
    return _bucket(settings.gift_provider_requests_per_second, settings.provider_instances + _SCHEDULED_READERS)


def sms_limiter(settings: NotificationProviderSettings) -> TokenBucket | None:
    return _bucket(settings.sms_provider_requests_per_second, settings.provider_instances + _SCHEDULED_READERS)


def email_limiter(settings: NotificationProviderSettings) -> TokenBucket | None:
    return _bucket(settings.email_send_rate_per_second, settings.provider_instances)


def _secret(arn: str) -> str:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return str(SecretsProvider(boto3_client=aws_client("secretsmanager")).get(arn))


def gift_provider_from_settings(settings: GiftProviderSettings, dynamodb_client: Any, table_name: str) -> GiftProvider:
    if settings.gift_provider == "giftishow":
        from shared.adapters.giftishow import GiftishowCredentials, GiftishowProvider

        if not settings.giftishow_dev_yn:
            raise ValueError("GIFTISHOW_DEV_YN must be Y (test mode) or N (live) with GIFT_PROVIDER=giftishow")
        credentials = GiftishowCredentials.from_secret(_secret(settings.gift_provider_secret_arn))
        return GiftishowProvider(
            credentials,
            settings.giftishow_callback_number,
            endpoint=settings.gift_provider_endpoint,
            dev_yn=settings.giftishow_dev_yn,
            limiter=gift_limiter(settings),
        )
    return SandboxGiftProvider(dynamodb_client, table_name)


def notification_sender_from_settings(
    settings: NotificationProviderSettings, dynamodb_client: Any, table_name: str, concurrency: int = 8
) -> NotificationSender:
    """Email through SES; SMS/LMS through Solapi or, in the sandbox, SNS behind the contract's
    sandbox outcomes (MiniStack keeps what SES and SNS were given for inspection). SES and SNS get one attempt per
    call: the domain retries a send itself. ``concurrency``: how many of a batch's requests the sandbox path (one
    SNS Publish and its sandbox items per message) has in flight at once."""
    email = SesBulkEmailSender(
        aws_client("sesv2", retries=False),
        settings.email_from_address,
        settings.ses_configuration_set or None,
        limiter=email_limiter(settings),
    )
    if settings.notification_provider == "solapi":
        solapi = SolapiSender(solapi_api(settings), dynamodb_client, table_name, settings.sms_sender_number)
        return ChannelRouter(sms=solapi, email=email)
    sns = SnsSmsSender(aws_client("sns", retries=False), concurrency=concurrency, limiter=sms_limiter(settings))
    return SandboxNotificationSender(
        ChannelRouter(sms=sns, email=email),
        dynamodb_client,
        table_name,
        SandboxSesEventBus(aws_client("events")).report,
        concurrency=concurrency,
    )


def report_source_from_settings(
    settings: NotificationProviderSettings, dynamodb_client: Any, table_name: str
) -> ReportSource:
    """Where the SMS provider's delivery reports are fetched from (email reports are pushed by SES)."""
    if settings.notification_provider == "solapi":
        # Reading reports needs no sender number: the poller is not given one.
        return SolapiReportSource(solapi_api(settings), dynamodb_client, table_name)
    return SandboxReportSource(dynamodb_client, table_name)


def solapi_api(settings: NotificationProviderSettings) -> SolapiApi:
    """Solapi's API client; credentials from the Secrets Manager secret ``{"api_key", "api_secret"}``."""
    credentials = SolapiCredentials.model_validate_json(_secret(settings.solapi_secret_arn))
    return SolapiApi(settings.solapi_endpoint, credentials, limiter=sms_limiter(settings))
