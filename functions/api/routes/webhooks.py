"""Webhooks: endpoints an account registers to be told what happened, their deliveries and replays."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import Router

from functions.api.dependencies import data_store, secret_cipher, webhook_delivery_queue
from functions.api.responses import Cursor, Limit, PathId, accepted, created, no_content
from shared.domain.webhooks import webhooks
from shared.http.principal import current_account_id
from shared.models.api import CreateWebhookRequest, DeliveryRetried, WebhookCreated, WebhookDeliveryView, WebhookView
from shared.models.common import Page
from shared.settings import api_settings

router = Router()


@router.post(
    "/webhooks",
    tags=["webhooks"],
    responses={201: {"description": "Webhook registered; its secret is shown only now"}},
    summary="Register a webhook",
    description=(
        "An https:// endpoint that receives the chosen events as Standard Webhooks POSTs, signed with the secret in "
        "this answer (shown only here). A host that is a private, link-local or multicast address is 422. At most 10 "
        "webhooks per account (409 INVALID_STATE)."
    ),
)
def create_webhook(body: CreateWebhookRequest) -> Response[WebhookCreated]:
    account_id = current_account_id(router)
    production = api_settings().production
    return created(webhooks.create_webhook(data_store(), secret_cipher(), account_id, body, production=production))


@router.get(
    "/webhooks",
    tags=["webhooks"],
    summary="List webhooks",
    description="The account's webhooks, newest first, without their secrets.",
)
def list_webhooks() -> Page[WebhookView]:
    return webhooks.list_webhooks(data_store(), current_account_id(router))


@router.get(
    "/webhooks/<webhook_id>",
    tags=["webhooks"],
    summary="Get a webhook",
    description="One webhook of the account, without its secret; another account's webhook is 404.",
)
def get_webhook(webhook_id: PathId) -> WebhookView:
    return webhooks.get_webhook(data_store(), current_account_id(router), webhook_id)


@router.delete(
    "/webhooks/<webhook_id>",
    tags=["webhooks"],
    responses={204: {"description": "Deleted"}},
    summary="Delete a webhook",
    description="No further events go to it; its pending deliveries end FAILED.",
)
def delete_webhook(webhook_id: PathId) -> Response[None]:
    webhooks.delete_webhook(data_store(), current_account_id(router), webhook_id)
    return no_content()


@router.get(
    "/webhooks/<webhook_id>/deliveries",
    tags=["webhooks"],
    summary="List a webhook's deliveries",
    description=(
        "One entry per event sent to this webhook, newest first: its status (PENDING while attempts are left, "
        "SUCCEEDED on a 2xx answer, FAILED once none is), attempts, the last HTTP status (or last_error when there "
        "was no answer) and when the next attempt is due."
    ),
)
def list_deliveries(webhook_id: PathId, limit: Limit = 50, cursor: Cursor = None) -> Page[WebhookDeliveryView]:
    return webhooks.list_deliveries(data_store(), current_account_id(router), webhook_id, limit, cursor)


@router.post(
    "/webhooks/<webhook_id>/deliveries/<delivery_id>/retry",
    tags=["webhooks"],
    responses={202: {"description": "Queued to be sent again now"}},
    summary="Send a delivery again",
    description=(
        "Sends the event again now, with the same webhook-id and body (a new signature and timestamp), whatever its "
        "status; should it fail, it is retried on the normal schedule."
    ),
)
def retry_delivery(webhook_id: PathId, delivery_id: PathId) -> Response[DeliveryRetried]:
    account_id = current_account_id(router)
    replayed = webhooks.replay_delivery(data_store(), webhook_delivery_queue(), account_id, webhook_id, delivery_id)
    return accepted(replayed)
