"""Counts the AWS requests boto3 makes, from botocore's own request events (nothing estimated)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3

SANDBOX_PREFIX = "SANDBOX_PROVIDER#"


def _keys_written(operation: str, params: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(pk, sk, in_transaction) for every item a DynamoDB write request writes."""

    def key_of(item: dict[str, Any]) -> tuple[str, str]:
        if "pk" in item:
            return item["pk"]["S"], item["sk"]["S"]
        return item["id"]["S"], ""  # the idempotency table

    if operation in ("PutItem",):
        return [(*key_of(params["Item"]), False)]
    if operation in ("UpdateItem", "DeleteItem"):
        return [(*key_of(params["Key"]), False)]
    if operation == "BatchWriteItem":
        return [
            (*key_of(r["PutRequest"]["Item"] if "PutRequest" in r else r["DeleteRequest"]["Key"]), False)
            for requests in params["RequestItems"].values()
            for r in requests
        ]
    if operation == "TransactWriteItems":
        written = []
        for item in params["TransactItems"]:
            ((kind, body),) = item.items()
            if kind == "ConditionCheck":
                continue
            written.append((*key_of(body.get("Item") or body["Key"]), True))
        return written
    return []


@dataclass
class CallCounter:
    """Attach to boto3's default session; read the tallies per phase."""

    requests: Counter[str] = field(default_factory=Counter)
    provider_requests: Counter[str] = field(default_factory=Counter)
    write_units: int = 0
    balance_writes: int = 0

    def attach(self) -> None:
        boto3.setup_default_session()
        boto3.DEFAULT_SESSION.events.register("provide-client-params.*.*", self._on_call)  # type: ignore[union-attr]

    def reset(self) -> None:
        self.requests.clear()
        self.provider_requests.clear()
        self.write_units = 0
        self.balance_writes = 0

    def _on_call(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        service = model.service_model.service_name
        operation = model.name
        written = _keys_written(operation, params) if service == "dynamodb" else []
        if written and all(pk.startswith(SANDBOX_PREFIX) for pk, _, _ in written):
            self.provider_requests[f"{service}.{operation}"] += 1  # the sandbox provider's own state
            return
        self.requests[f"{service}.{operation}"] += 1
        for _pk, sk, in_transaction in written:
            self.write_units += 2 if in_transaction else 1
            if sk == "BALANCE":
                self.balance_writes += 1

    def total(self) -> int:
        return sum(self.requests.values())
