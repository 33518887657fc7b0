"""Webhooks, their counter (at most N per account) and their deliveries, with the sparse index of deliveries due."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from shared.adapters.store import keys
from shared.adapters.store.records import Records
from shared.adapters.store.table import dump
from shared.domain.clock import utc_now
from shared.errors import ConcurrentUpdate, WebhookLimitReached
from shared.models.common import DeliveryStatus, Page
from shared.models.items import WebhookDeliveryItem, WebhookItem

DELIVERY_RETENTION = timedelta(days=30)
# Pending with the attempts as read: nobody claimed an attempt in between.
_STILL_CLAIMED = "attempts = :n AND #s = :pending"


class WebhookRecords(Records):
    def create_webhook(self, webhook: WebhookItem, limit: int) -> None:
        """The webhook and the account's counter, together; the counter must stay at most `limit`."""
        count = self._table.update_op(
            keys.webhook_count(webhook.account_id),
            "SET #n = if_not_exists(#n, :zero) + :one",
            {":zero": 0, ":one": 1, ":limit": limit},
            names={"#n": "count"},
            condition="attribute_not_exists(#n) OR #n < :limit",
        )
        put = self._table.put_op(keys.webhook(webhook.account_id, webhook.webhook_id), dump(webhook), new_only=True)
        try:
            self._table.transact([count, put])
        except ConcurrentUpdate as err:
            if len(self.list_webhooks(webhook.account_id)) >= limit:
                raise WebhookLimitReached() from err
            raise

    def has_webhooks(self, account_id: str) -> bool:
        counter = self._table.get(keys.webhook_count(account_id), consistent=True)
        return counter is not None and int(counter.get("count", 0)) > 0

    def list_webhooks(self, account_id: str) -> list[WebhookItem]:
        items, _ = self._table.query(keys.account(account_id), ("begins_with", keys.WEBHOOK), consistent=True)
        return [WebhookItem.model_validate(i) for i in items]

    def get_webhook(self, account_id: str, webhook_id: str) -> WebhookItem | None:
        item = self._table.get(keys.webhook(account_id, webhook_id), consistent=True)
        return WebhookItem.model_validate(item) if item else None

    def delete_webhook(self, account_id: str, webhook_id: str) -> bool:
        """False when there is no such webhook."""
        delete = {
            "Delete": {
                "TableName": self._table.name,
                "Key": self._table.key(keys.webhook(account_id, webhook_id)),
                "ConditionExpression": "attribute_exists(pk)",
            }
        }
        count = self._table.update_op(
            keys.webhook_count(account_id),
            "SET #n = if_not_exists(#n, :one) - :one",
            {":one": 1},
            names={"#n": "count"},
        )
        try:
            self._table.transact([delete, count])
        except ConcurrentUpdate:
            return False
        return True

    # --- deliveries --------------------------------------------------------------------------------

    def _delivery_values(self, delivery: WebhookDeliveryItem) -> dict[str, Any]:
        values = {**dump(delivery), "expires_at": int((delivery.created_at + DELIVERY_RETENTION).timestamp())}
        if delivery.status == "PENDING" and delivery.next_attempt_at is not None:
            values |= {
                "gsi2pk": keys.WEBHOOK_DUE,
                "gsi2sk": keys.delivery_due(delivery.next_attempt_at, delivery.delivery_id),
            }
        return values

    def add_deliveries(self, deliveries: Sequence[WebhookDeliveryItem]) -> list[WebhookDeliveryItem]:
        added = []
        for delivery in deliveries:
            key = keys.delivery(delivery.account_id, delivery.webhook_id, delivery.delivery_id)
            if self._table.put(key, self._delivery_values(delivery), new_only=True):
                added.append(delivery)
        return added

    def get_delivery(self, account_id: str, webhook_id: str, delivery_id: str) -> WebhookDeliveryItem | None:
        item = self._table.get(keys.delivery(account_id, webhook_id, delivery_id), consistent=True)
        return WebhookDeliveryItem.model_validate(item) if item else None

    def list_deliveries(
        self, account_id: str, webhook_id: str, limit: int, cursor: str | None
    ) -> Page[WebhookDeliveryItem]:
        return self._table.page(
            WebhookDeliveryItem, keys.deliveries(account_id, webhook_id), limit=limit, cursor=cursor
        )

    def _replace(
        self, before: WebhookDeliveryItem, after: WebhookDeliveryItem, condition: str, values: dict[str, Any]
    ) -> bool:
        key = keys.delivery(before.account_id, before.webhook_id, before.delivery_id)
        put = self._table.put_op(
            key, self._delivery_values(after), condition=condition, condition_values=values, names={"#s": "status"}
        )
        return self._table.write(put)

    def claim_attempt(self, delivery: WebhookDeliveryItem, lease_until: datetime) -> WebhookDeliveryItem | None:
        claimed = delivery.model_copy(
            update={"attempts": delivery.attempts + 1, "next_attempt_at": lease_until, "updated_at": lease_until}
        )
        held = self._replace(delivery, claimed, _STILL_CLAIMED, {":n": delivery.attempts, ":pending": "PENDING"})
        return claimed if held else None

    def finish_attempt(
        self,
        delivery: WebhookDeliveryItem,
        status: DeliveryStatus,
        status_code: int | None,
        error: str | None,
        next_attempt_at: datetime | None,
    ) -> bool:
        finished = delivery.model_copy(
            update={
                "status": status,
                "last_status_code": status_code,
                "last_error": error,
                "next_attempt_at": next_attempt_at,
                "updated_at": utc_now(),
            }
        )
        return self._replace(
            delivery, finished, "attempts = :n AND #s = :pending", {":n": delivery.attempts, ":pending": "PENDING"}
        )

    def restart_delivery(self, delivery: WebhookDeliveryItem, now: datetime) -> WebhookDeliveryItem:
        """PENDING and due now, a new schedule from here; an attempt in progress may still record its outcome."""
        restarted = delivery.model_copy(
            update={"status": "PENDING", "next_attempt_at": now, "schedule_from": delivery.attempts, "updated_at": now}
        )
        key = keys.delivery(delivery.account_id, delivery.webhook_id, delivery.delivery_id)
        self._table.put(key, self._delivery_values(restarted))
        return restarted

    def due_deliveries(self, now: datetime, limit: int = 200) -> list[WebhookDeliveryItem]:
        items, _ = self._table.query(keys.WEBHOOK_DUE, ("<=", keys.due_by(now)), index="gsi2", limit=limit)
        return [WebhookDeliveryItem.model_validate(i) for i in items]
