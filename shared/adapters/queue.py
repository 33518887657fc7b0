"""SQS adapter for background work: messages are small job references, sent ten at a time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

_SEND_BATCH_LIMIT = 10


class WorkQueue:
    def __init__(self, client: Any, queue_url: str) -> None:
        self._client = client
        self._url = queue_url

    def enqueue(self, jobs: Sequence[BaseModel]) -> int:
        """SendMessageBatch in groups of ten, re-sending failed entries. Returns the requests made."""
        requests = 0
        bodies = [job.model_dump_json() for job in jobs]
        for start in range(0, len(bodies), _SEND_BATCH_LIMIT):
            entries = [
                {"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies[start : start + _SEND_BATCH_LIMIT])
            ]
            while entries:
                response = self._client.send_message_batch(QueueUrl=self._url, Entries=entries)
                requests += 1
                failed = {f["Id"] for f in response.get("Failed", [])}
                entries = [e for e in entries if e["Id"] in failed]
        return requests
