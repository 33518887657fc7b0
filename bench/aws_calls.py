"""Counts the AWS requests boto3 makes, from botocore's own request events (nothing estimated), and the DynamoDB
capacity units the engine says each request consumed.

Every DynamoDB request made while the counter is attached (the handlers' own included) is sent with
``ReturnConsumedCapacity="INDEXES"`` (a ``before-parameter-build`` hook of the benchmark only, never of the
service), and the ``ConsumedCapacity`` of each answer (a list for batch and transaction calls) is summed per table
and index. MiniStack rates writes by item size as DynamoDB does (1 unit per started KB, 2 in a transaction, plus
the index writes); it rates a GetItem or Query at 0.5 (1 if consistent) whatever the size and reports nothing for
BatchGetItem, so reads it leaves out are rated here from the bytes returned, by DynamoDB's rule (0.5 unit per
started 4 KB of each item, 1 if consistent). ``model_write_units`` is the old per-item model, kept as a check.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import boto3

READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"})

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
    model_write_units: int = 0  # the old model: 1 per item written, 2 in a transaction, whatever its size
    balance_writes: int = 0
    # Units the engine reported, by "table" or "table/index" (the sandbox provider's own state apart).
    write_units_by_target: Counter[str] = field(default_factory=Counter)
    read_units_by_target: Counter[str] = field(default_factory=Counter)
    provider_units: float = 0.0
    unrated_reads: int = 0  # reads the engine gave no units for, rated here from the bytes returned

    def attach(self) -> None:
        boto3.setup_default_session()
        events = boto3.DEFAULT_SESSION.events  # type: ignore[union-attr]
        events.register("provide-client-params.*.*", self._on_call)
        events.register("before-parameter-build.dynamodb.*", _ask_for_capacity)
        events.register("after-call.dynamodb.*", self._on_answer)

    def reset(self) -> None:
        self.requests.clear()
        self.provider_requests.clear()
        self.model_write_units = 0
        self.balance_writes = 0
        self.write_units_by_target.clear()
        self.read_units_by_target.clear()
        self.provider_units = 0.0
        self.unrated_reads = 0

    @property
    def write_units(self) -> float:
        return sum(self.write_units_by_target.values())

    @property
    def read_units(self) -> float:
        return sum(self.read_units_by_target.values())

    def _on_call(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        service = model.service_model.service_name
        operation = model.name
        written = _keys_written(operation, params) if service == "dynamodb" else []
        read = _keys_read(operation, params) if service == "dynamodb" else []
        touched = [pk for pk, _, _ in written] + read
        if touched and all(pk.startswith(SANDBOX_PREFIX) for pk in touched):
            self.provider_requests[f"{service}.{operation}"] += 1  # the sandbox provider's own state
            context["bench_provider"] = True
            return
        self.requests[f"{service}.{operation}"] += 1
        tables = params.get("RequestItems", {}).values() if operation == "BatchGetItem" else [params]
        context["bench_consistent"] = any(part.get("ConsistentRead") for part in tables)
        for _pk, sk, in_transaction in written:
            self.model_write_units += 2 if in_transaction else 1
            if sk == "BALANCE":
                self.balance_writes += 1

    def _on_answer(
        self, http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        consumed = parsed.get("ConsumedCapacity")
        entries = consumed if isinstance(consumed, list) else [consumed] if consumed else []
        units = Counter[str]()
        for entry in entries:
            table = entry["TableName"]
            indexes = {**entry.get("GlobalSecondaryIndexes", {}), **entry.get("LocalSecondaryIndexes", {})}
            index_units = 0.0
            for name, arm in indexes.items():
                units[f"{table}/{name}"] += arm["CapacityUnits"]
                index_units += arm["CapacityUnits"]
            base = entry.get("Table", {}).get("CapacityUnits", entry["CapacityUnits"] - index_units)
            if base:
                units[table] += base
        if model.name in READS and not entries and http_response.status_code == 200:
            units = _rated_reads(model.name, parsed, context.get("bench_consistent", False))
            self.unrated_reads += 1 if units else 0
        if context.get("bench_provider"):
            self.provider_units += sum(units.values())
        elif model.name in READS:
            self.read_units_by_target.update(units)
        else:
            self.write_units_by_target.update(units)

    def total(self) -> int:
        return sum(self.requests.values())


def _ask_for_capacity(params: dict[str, Any], model: Any, **_: Any) -> None:
    if "ReturnConsumedCapacity" in model.input_shape.members:
        params["ReturnConsumedCapacity"] = "INDEXES"


def _keys_read(operation: str, params: dict[str, Any]) -> list[str]:
    """The partition keys a DynamoDB read names (to tell the sandbox provider's reads from the service's)."""
    if operation == "GetItem":
        return [params["Key"].get("pk", params["Key"].get("id", {})).get("S", "")]
    if operation == "BatchGetItem":
        return [k.get("pk", k.get("id", {})).get("S", "") for r in params["RequestItems"].values() for k in r["Keys"]]
    return []


def item_bytes(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB bills it: attribute names plus values (numbers about 1 byte per 2 digits)."""
    return sum(len(name.encode()) + _value_bytes(value) for name, value in item.items())


def _value_bytes(value: dict[str, Any]) -> int:
    ((kind, body),) = value.items()
    if kind == "S":
        return len(body.encode("utf-8", "surrogatepass"))
    if kind == "N":
        return 1 + (len(body.lstrip("-").replace(".", "").lstrip("0")) + 1) // 2
    if kind == "B":
        return len(body)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + _value_bytes(v) for k, v in body.items())
    if kind == "L":
        return 3 + sum(1 + _value_bytes(v) for v in body)
    if kind in ("SS", "NS", "BS"):
        return sum(_value_bytes({kind[0]: v}) for v in body)
    return 0


def _rated_reads(operation: str, parsed: dict[str, Any], consistent: bool) -> Counter[str]:
    """DynamoDB's read rule for an answer the engine did not rate: per item, 0.5 unit (1 if consistent) per
    started 4 KB; for BatchGetItem by table."""
    per_unit = 1.0 if consistent else 0.5

    def rate(items: list[dict[str, Any]]) -> float:
        return sum(per_unit * max(1, -(-item_bytes(item) // 4096)) for item in items)

    if operation == "BatchGetItem":
        return Counter({table: rate(items) for table, items in parsed.get("Responses", {}).items() if items})
    return Counter()
