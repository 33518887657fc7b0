"""Webhooks an account registers (contract v1.1, "Webhooks"): create, list, read, delete, their deliveries and
replaying one.

The signing secret is made here, shown once in the create answer and stored only encrypted (SecretCipher: KMS with
the account and webhook as encryption context, so a ciphertext copied to another webhook does not decrypt). An
account has at most MAX_WEBHOOKS; the store enforces it with a counter in the same transaction as the webhook.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from shared.domain.clock import utc_now
from shared.domain.store import require
from shared.domain.webhooks.webhook_urls import check_webhook_url
from shared.errors import InvalidState, WebhookLimitReached
from shared.ids import new_id
from shared.models.api import (
    CreateWebhookRequest,
    DeliveryRetried,
    WebhookCreated,
    WebhookDeliveryView,
    WebhookView,
)
from shared.models.common import Page
from shared.models.items import WebhookDeliveryItem, WebhookItem

MAX_WEBHOOKS = 10
_SECRET_BYTES = 24


class SecretCipher(Protocol):
    def encrypt(self, plaintext: str, context: dict[str, str]) -> str: ...

    def decrypt(self, ciphertext: str, context: dict[str, str]) -> str: ...


class DeliveryQueue(Protocol):
    def enqueue_deliveries(self, deliveries: Sequence[WebhookDeliveryItem], delay_seconds: int = 0) -> None: ...


class WebhookStore(Protocol):
    def create_webhook(self, webhook: WebhookItem, limit: int) -> None: ...

    def list_webhooks(self, account_id: str) -> list[WebhookItem]: ...

    def get_webhook(self, account_id: str, webhook_id: str) -> WebhookItem | None: ...

    def delete_webhook(self, account_id: str, webhook_id: str) -> bool: ...

    def list_deliveries(
        self, account_id: str, webhook_id: str, limit: int, cursor: str | None
    ) -> Page[WebhookDeliveryItem]: ...

    def get_delivery(self, account_id: str, webhook_id: str, delivery_id: str) -> WebhookDeliveryItem | None: ...

    def restart_delivery(self, delivery: WebhookDeliveryItem, now: datetime) -> WebhookDeliveryItem: ...


def secret_context(webhook: WebhookItem) -> dict[str, str]:
    return {"account_id": webhook.account_id, "webhook_id": webhook.webhook_id}


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode()


def webhook_view(webhook: WebhookItem) -> WebhookView:
    return WebhookView.model_validate(webhook.model_dump(exclude={"secret_ciphertext", "account_id"}))


def create_webhook(
    store: WebhookStore, cipher: SecretCipher, account_id: str, request: CreateWebhookRequest, *, production: bool
) -> WebhookCreated:
    url = check_webhook_url(request.url, production=production)
    secret = new_secret()
    webhook_id = new_id("whk")
    context = {"account_id": account_id, "webhook_id": webhook_id}
    webhook = WebhookItem(
        webhook_id=webhook_id,
        account_id=account_id,
        url=url,
        events=request.events,
        description=request.description,
        created_at=utc_now(),
        secret_ciphertext=cipher.encrypt(secret, context),
    )
    try:
        store.create_webhook(webhook, MAX_WEBHOOKS)
    except WebhookLimitReached:
        raise InvalidState(f"an account has at most {MAX_WEBHOOKS} webhooks; delete one first") from None
    return WebhookCreated(**webhook_view(webhook).model_dump(), secret=secret)


def list_webhooks(store: WebhookStore, account_id: str) -> Page[WebhookView]:
    webhooks = sorted(store.list_webhooks(account_id), key=lambda w: w.created_at, reverse=True)
    return Page[WebhookView](items=[webhook_view(w) for w in webhooks])


def get_webhook(store: WebhookStore, account_id: str, webhook_id: str) -> WebhookView:
    return webhook_view(require(store.get_webhook(account_id, webhook_id), "webhook"))


def delete_webhook(store: WebhookStore, account_id: str, webhook_id: str) -> None:
    """Its pending deliveries end FAILED when their turn comes (the delivery finds no webhook)."""
    if not store.delete_webhook(account_id, webhook_id):
        require(None, "webhook")


def delivery_view(delivery: WebhookDeliveryItem) -> WebhookDeliveryView:
    return WebhookDeliveryView.model_validate(delivery.model_dump())


def list_deliveries(
    store: WebhookStore, account_id: str, webhook_id: str, limit: int, cursor: str | None
) -> Page[WebhookDeliveryView]:
    require(store.get_webhook(account_id, webhook_id), "webhook")
    page = store.list_deliveries(account_id, webhook_id, limit, cursor)
    return Page[WebhookDeliveryView](items=[delivery_view(d) for d in page.items], next_cursor=page.next_cursor)


def replay_delivery(
    store: WebhookStore, queue: DeliveryQueue, account_id: str, webhook_id: str, delivery_id: str
) -> DeliveryRetried:
    """Send a delivery again now, whatever its status, with the same body and webhook-id; should this attempt fail,
    it is retried on the normal schedule."""
    require(store.get_webhook(account_id, webhook_id), "webhook")
    delivery = require(store.get_delivery(account_id, webhook_id, delivery_id), "delivery")
    restarted = store.restart_delivery(delivery, utc_now())
    queue.enqueue_deliveries([restarted])
    return DeliveryRetried(delivery_id=restarted.delivery_id, status=restarted.status)
