"""The single table through its boto3 client: item (de)serialization, conditional writes, transactions, batched
writes and the one query pager with its opaque cursor. Nothing here knows an item type."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Literal, TypeVar

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from pydantic import BaseModel, TypeAdapter

from shared.adapters.store.keys import Key
from shared.cursor import decode_cursor, encode_cursor, not_a_cursor
from shared.errors import ConcurrentUpdate
from shared.models.common import Page

ModelT = TypeVar("ModelT", bound=BaseModel)
# A sort-key condition of a query: (operator, value); begins_with matches a prefix.
SortCondition = tuple[Literal["begins_with", "<", "<=", ">="], str]


_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
_BATCH_WRITE_LIMIT = 25
_KEY_POSITION = TypeAdapter(dict[str, str])


def to_attributes(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in values.items() if v is not None}


def from_attributes(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def plain_numbers(value: Any) -> Any:
    """`value` with DynamoDB's Decimals as int (or float): free-form maps read back stay JSON-serialisable."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain_numbers(v) for v in value]
    return value


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True)


def condition_failed(error: ClientError) -> bool:
    return bool(error.response["Error"]["Code"] == "ConditionalCheckFailedException")


class Table:
    def __init__(self, client: Any, name: str) -> None:
        self.client = client
        self.name = name

    @staticmethod
    def key(key: Key) -> dict[str, Any]:
        return to_attributes({"pk": key[0], "sk": key[1]})

    # --- reads -----------------------------------------------------------------------------------

    def get(self, key: Key, *, consistent: bool = False) -> dict[str, Any] | None:
        item = self.client.get_item(TableName=self.name, Key=self.key(key), ConsistentRead=consistent).get("Item")
        return from_attributes(item) if item else None

    def get_many(self, keys: Iterable[Key]) -> dict[Key, dict[str, Any]]:
        """One consistent BatchGetItem (up to 100 keys, unprocessed ones asked again); missing keys are absent."""
        found: dict[Key, dict[str, Any]] = {}
        request: dict[str, Any] = {
            self.name: {"Keys": [self.key(k) for k in dict.fromkeys(keys)], "ConsistentRead": True}
        }
        while request:
            response = self.client.batch_get_item(RequestItems=request)
            for raw in response.get("Responses", {}).get(self.name, []):
                item = from_attributes(raw)
                found[(item["pk"], item["sk"])] = item
            request = response.get("UnprocessedKeys") or {}
        return found

    def query(
        self,
        partition: str,
        sort: SortCondition | None = None,
        *,
        index: str | None = None,
        limit: int | None = None,
        newest_first: bool = False,
        start: dict[str, Any] | None = None,
        projection: str | None = None,
        consistent: bool = False,
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """Items of one partition (of the table or of `index`), in sort-key order, following DynamoDB's pages
        until `limit` items (or all). Returns them and the key to go on from (None at the end)."""
        prefix = index or ""
        names = {"#pk": f"{prefix}pk"}
        values: dict[str, Any] = {":pk": partition}
        condition = "#pk = :pk"
        if sort is not None:
            operator, value = sort
            names["#sk"], values[":sk"] = f"{prefix}sk", value
            condition += " AND begins_with(#sk, :sk)" if operator == "begins_with" else f" AND #sk {operator} :sk"
        params: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": to_attributes(values),
            "ScanIndexForward": not newest_first,
        }
        if index:
            params["IndexName"] = index
        if projection:
            params["ProjectionExpression"] = projection
        if consistent:
            params["ConsistentRead"] = True  # the table's own partitions only; indexes cannot
        items: list[dict[str, Any]] = []
        last = start
        while True:
            if last:
                params["ExclusiveStartKey"] = last
            if limit is not None:
                params["Limit"] = limit - len(items)
            response = self.client.query(**params)
            items += [from_attributes(i) for i in response.get("Items", [])]
            last = response.get("LastEvaluatedKey")
            if not last or (limit is not None and len(items) >= limit):
                return items, last

    def page(
        self,
        model: type[ModelT],
        partition: str,
        sort: SortCondition | None = None,
        *,
        limit: int,
        cursor: str | None,
        index: str | None = None,
        newest_first: bool = True,
        scope: Mapping[str, str] | None = None,
    ) -> Page[ModelT]:
        """One page of a query with an opaque cursor. The cursor holds only the key attributes that are not
        fixed by the caller: the partition key (and `scope`, e.g. the table's own partition key on an index
        query) is re-derived from the caller on the way back, so a cursor can never move into another
        account's data."""
        prefix = index or ""
        fixed = {f"{prefix}pk": partition, **(scope or {})}
        wanted = ({"pk", "sk"} | ({f"{prefix}pk", f"{prefix}sk"} if index else set())) - set(fixed)
        start = None
        if cursor:
            position = decode_cursor(cursor, _KEY_POSITION)
            if set(position) != wanted:
                raise not_a_cursor()
            start = to_attributes({**position, **fixed})
        try:
            items, last = self.query(partition, sort, index=index, limit=limit, newest_first=newest_first, start=start)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ValidationException" and start:
                raise not_a_cursor() from error
            raise
        next_cursor = None
        if last:
            next_cursor = encode_cursor({k: v for k, v in from_attributes(last).items() if k in wanted})
        return Page(items=[model.model_validate(i) for i in items], next_cursor=next_cursor)

    # --- writes ----------------------------------------------------------------------------------

    def put_op(
        self,
        key: Key,
        values: Mapping[str, Any],
        *,
        new_only: bool = False,
        condition: str | None = None,
        condition_values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """A Put for a transaction; `new_only` makes it fail when the item exists, `condition` unless it holds."""
        put: dict[str, Any] = {"TableName": self.name, "Item": to_attributes({**values, "pk": key[0], "sk": key[1]})}
        if new_only:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        if condition:
            put["ConditionExpression"] = condition
        if condition_values:
            put["ExpressionAttributeValues"] = to_attributes(condition_values)
        if names:
            put["ExpressionAttributeNames"] = dict(names)
        return {"Put": put}

    def update_op(
        self,
        key: Key,
        expression: str,
        values: Mapping[str, Any] | None = None,
        *,
        names: Mapping[str, str] | None = None,
        condition: str | None = None,
    ) -> dict[str, Any]:
        """An Update for a transaction (or for write())."""
        update: dict[str, Any] = {"TableName": self.name, "Key": self.key(key), "UpdateExpression": expression}
        if values:
            update["ExpressionAttributeValues"] = to_attributes(values)
        if names:
            update["ExpressionAttributeNames"] = dict(names)
        if condition:
            update["ConditionExpression"] = condition
        return {"Update": update}

    def write(self, operation: Mapping[str, Mapping[str, Any]]) -> bool:
        """One put_op or update_op on its own, outside a transaction. False when its condition did not hold (the
        item exists already, for a new_only put): nothing changed."""
        ((kind, request),) = operation.items()
        call = {"Put": self.client.put_item, "Update": self.client.update_item}[kind]
        try:
            call(**request)
        except ClientError as error:
            if condition_failed(error):
                return False
            raise
        return True

    def put(self, key: Key, values: Mapping[str, Any], *, new_only: bool = False) -> bool:
        """False when `new_only` and the item exists already."""
        return self.write(self.put_op(key, values, new_only=new_only))

    def delete(self, key: Key) -> None:
        self.client.delete_item(TableName=self.name, Key=self.key(key))

    def transact(self, operations: Sequence[dict[str, Any]]) -> None:
        """All or nothing. A lost condition or a concurrent transaction becomes ConcurrentUpdate."""
        try:
            self.client.transact_write_items(TransactItems=list(operations))
        except ClientError as error:
            if error.response["Error"]["Code"] == "TransactionCanceledException":
                reasons = [r.get("Code", "None") for r in error.response.get("CancellationReasons", [])]
                raise ConcurrentUpdate(f"transaction cancelled: {reasons}") from error
            raise

    def batch_put(self, items: Iterable[tuple[Key, Mapping[str, Any]]]) -> int:
        """Unconditional puts, BatchWriteItem in groups of 25. Returns the requests made."""
        return self._batch_write(
            [{"PutRequest": {"Item": to_attributes({**values, "pk": key[0], "sk": key[1]})}} for key, values in items]
        )

    def batch_delete(self, keys: Iterable[Key]) -> int:
        return self._batch_write([{"DeleteRequest": {"Key": self.key(key)}} for key in keys])

    def _batch_write(self, pending: list[dict[str, Any]]) -> int:
        """BatchWriteItem in groups of 25, re-sending unprocessed items. Returns the requests made."""
        requests = 0
        while pending:
            chunk, pending = pending[:_BATCH_WRITE_LIMIT], pending[_BATCH_WRITE_LIMIT:]
            while chunk:
                response = self.client.batch_write_item(RequestItems={self.name: chunk})
                requests += 1
                chunk = response.get("UnprocessedItems", {}).get(self.name, [])
        return requests
