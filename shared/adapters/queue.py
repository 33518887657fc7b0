"""SQS adapter for background work: messages are small job references, sent ten at a time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from shared.domain.webhooks.webhook_delivery import DeliveryJob
from shared.models.items import WebhookDeliveryItem
from shared.models.reports import DeliveryReport

_SEND_BATCH_LIMIT = 10


class WorkQueue:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def enqueue(self, jobs: Sequence[BaseModel], delay_seconds: int = 0) -> int:
        """SendMessageBatch in groups of ten, re-sending failed entries. Returns the requests made."""
        requests = 0
        bodies = [job.model_dump_json() for job in jobs]
        for start in range(0, len(bodies), _SEND_BATCH_LIMIT):
            entries = [
                {"Id": str(i), "MessageBody": body, "DelaySeconds": delay_seconds}
                for i, body in enumerate(bodies[start : start + _SEND_BATCH_LIMIT])
            ]
            while entries:
                response = self._client.send_message_batch(QueueUrl=self._url, Entries=entries)
                requests += 1
                failed = {f["Id"] for f in response.get("Failed", [])}
                entries = [e for e in entries if e["Id"] in failed]
        return requests


class ReportQueue:
    """The delivery-report queue: reports of one poll go as messages of up to 100 reports each."""

    def __init__(self, client: Any, queue_url: str, reports_per_message: int = 100) -> None:
        self._queue = WorkQueue(client, queue_url)
        self._per_message = reports_per_message

    def publish(self, reports: Sequence[DeliveryReport]) -> None:
        messages = [
            ReportMessage(reports=list(reports[start : start + self._per_message]))
            for start in range(0, len(reports), self._per_message)
        ]
        self._queue.enqueue(messages)


class ReportMessage(BaseModel):
    """A message on the delivery-report queue besides SES's own events."""

    reports: list[DeliveryReport]


class WebhookDeliveryQueue:
    """The webhook delivery queue: a job per delivery attempt to make."""

    def __init__(self, client: Any, queue_url: str) -> None:
        self._queue = WorkQueue(client, queue_url)

    def enqueue_deliveries(self, deliveries: Sequence[WebhookDeliveryItem], delay_seconds: int = 0) -> None:
        jobs = [
            DeliveryJob(account_id=d.account_id, webhook_id=d.webhook_id, delivery_id=d.delivery_id) for d in deliveries
        ]
        self._queue.enqueue(jobs, delay_seconds=delay_seconds)
