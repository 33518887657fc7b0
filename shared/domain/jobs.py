"""The work queue's jobs and the port the domain enqueues them through (shared.adapters.queue.JobQueue is the
SQS adapter). A job is a small reference to stored work, never the work itself."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pydantic import BaseModel

from shared.models.common import SendKind


class BatchJob(BaseModel):
    """The queue message: a reference to one batch of one send. Small, so ten fit one SQS request."""

    kind: SendKind
    account_id: str
    send_id: str
    batch_no: int
    gift_id: str | None = None  # lets the consumer read the gift with the batch in one request


class JobQueue(Protocol):
    def enqueue(self, jobs: Sequence[BaseModel], delay_seconds: int = 0) -> int:
        """Queue every job (at least once); returns the requests it took."""
        ...
