"""The DynamoDB data store: one table, keys built here, conditional writes mapped to domain errors.

Item layout (pk / sk):
  ACCOUNT#{id} / PROFILE              account profile
  ACCOUNT#{id} / BALANCE              credits and counts, versioned (compare-and-set)
  ACCOUNT#{id} / LEDGER#{entry_id}    ledger entries, newest last in key order
  ACCOUNT#{id} / TOPUP#{reference}    a settled top-up reference and its amount (credits once)
  ACCOUNT#{id} / WISH#{gift_id}       wishlist
  ACCOUNT#{id} / PROMOTION#{id}       promotions
  ACCOUNT#{id} / GIFT_SEND#{id}       gift sends (gsi1: by promotion; gsi2: waiting to be dispatched)
  APIKEY#{sha256} / APIKEY            account key lookup
  CATALOG / GIFT#{gift_id}            gift catalog
  SEND#{send_id} / BATCH#{n}          a batch of recipients of one send (the unit of background work)
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError
from pydantic import BaseModel

from shared.clock import to_rfc3339
from shared.errors import ConcurrentUpdate, InvalidInput, NotFound
from shared.models.common import Page
from shared.models.items import (
    AccountItem,
    AlertSettings,
    Balance,
    BatchItem,
    ChargeItem,
    GiftItem,
    LedgerEntryItem,
    OutboxEvent,
    PromotionItem,
    RecipientState,
    Reservation,
    SendCounts,
    SendItem,
    WinnerChunk,
)

ModelT = TypeVar("ModelT", bound=BaseModel)

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
_BATCH_WRITE_LIMIT = 25
_BATCH_GET_LIMIT = 100


def account_pk(account_id: str) -> str:
    return f"ACCOUNT#{account_id}"


def send_sk(kind: str, send_id: str) -> str:
    return f"{kind}_SEND#{send_id}"


def batch_key(send_id: str, batch_no: int) -> dict[str, str]:
    return {"pk": f"SEND#{send_id}", "sk": f"BATCH#{batch_no:05d}"}


def to_attributes(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in values.items() if v is not None}


def from_attributes(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True)


def _key(pk: str, sk: str) -> dict[str, Any]:
    return to_attributes({"pk": pk, "sk": sk})


def encode_cursor(last_key: dict[str, Any] | None) -> str | None:
    """Opaque page token. The partition key is left out and re-derived from the caller's own scope,
    so a token can never move a query into another account's data."""
    if not last_key:
        return None
    plain = {k: v for k, v in from_attributes(last_key).items() if k != "pk"}
    return base64.urlsafe_b64encode(json.dumps(plain, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, pk: str) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        plain = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(plain, dict) or not all(isinstance(v, str) for v in plain.values()):
            raise ValueError("cursor")
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError) as error:
        raise InvalidInput(
            "cursor is not valid", [{"loc": ["query", "cursor"], "msg": "not a cursor"}]
        ) from error
    return to_attributes({**plain, "pk": pk})


@dataclass(frozen=True)
class BalanceChange:
    """A compare-and-set of the balance item plus the ledger entry that explains it."""

    before: Balance
    after: Balance
    entry: LedgerEntryItem
    events: tuple[OutboxEvent, ...] = ()
    extra_entries: tuple[LedgerEntryItem, ...] = ()  # e.g. an auto send debiting sms and lms counts at once


class DataStore:
    """Repository over the single table. Takes its boto3 DynamoDB client; holds no business rules."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    # --- generic helpers ---------------------------------------------------------------------

    def _get(self, pk: str, sk: str, *, consistent: bool = False) -> dict[str, Any] | None:
        response = self._client.get_item(TableName=self._table, Key=_key(pk, sk), ConsistentRead=consistent)
        item = response.get("Item")
        return from_attributes(item) if item else None

    def _put(self, pk: str, sk: str, values: dict[str, Any]) -> dict[str, Any]:
        return {"Put": {"TableName": self._table, "Item": to_attributes({**values, "pk": pk, "sk": sk})}}

    def _query_page(
        self,
        model: type[ModelT],
        pk: str,
        *,
        sk_prefix: str,
        limit: int,
        cursor: str | None,
        newest_first: bool = True,
        index: str | None = None,
    ) -> Page[ModelT]:
        pk_name, sk_name = ("gsi1pk", "gsi1sk") if index == "gsi1" else ("pk", "sk")
        condition, names, values = "#pk = :pk", {"#pk": pk_name}, {":pk": pk}
        if sk_prefix:
            condition += " AND begins_with(#sk, :prefix)"
            names["#sk"], values[":prefix"] = sk_name, sk_prefix
        params: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": to_attributes(values),
            "ScanIndexForward": not newest_first,
            "Limit": limit,
        }
        if index:
            params["IndexName"] = index
        start = decode_cursor(cursor, pk)
        if start and index:
            start[pk_name] = start.pop("pk")
        if start:
            params["ExclusiveStartKey"] = start
        try:
            response = self._client.query(**params)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ValidationException" and start:
                raise InvalidInput("cursor is not valid", [{"loc": ["query", "cursor"]}]) from error
            raise
        items = [model.model_validate(from_attributes(i)) for i in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        if last and index:
            last = {k: v for k, v in last.items() if k != pk_name} | {"pk": last[pk_name]}
        return Page[model](items=items, next_cursor=encode_cursor(last))  # type: ignore[valid-type]

    def _transact(self, items: Sequence[dict[str, Any]]) -> None:
        """All or nothing. A lost condition or a concurrent transaction becomes ConcurrentUpdate."""
        try:
            self._client.transact_write_items(TransactItems=list(items))
        except ClientError as error:
            if error.response["Error"]["Code"] == "TransactionCanceledException":
                reasons = [r.get("Code", "None") for r in error.response.get("CancellationReasons", [])]
                raise ConcurrentUpdate(f"transaction cancelled: {reasons}") from error
            raise

    def _batch_write(self, puts: Iterable[dict[str, Any]]) -> int:
        """BatchWriteItem puts in groups of 25. Returns the requests made."""
        return self._batch_requests([{"PutRequest": {"Item": to_attributes(p)}} for p in puts])

    def _batch_requests(self, pending: list[dict[str, Any]]) -> int:
        """BatchWriteItem in groups of 25, re-sending unprocessed items. Returns the requests made."""
        requests = 0
        while pending:
            chunk, pending = pending[:_BATCH_WRITE_LIMIT], pending[_BATCH_WRITE_LIMIT:]
            while chunk:
                response = self._client.batch_write_item(RequestItems={self._table: chunk})
                requests += 1
                chunk = response.get("UnprocessedItems", {}).get(self._table, [])
        return requests

    def _balance_update(self, change: BalanceChange) -> dict[str, Any]:
        after = change.after
        return {
            "Update": {
                "TableName": self._table,
                "Key": _key(account_pk(after.account_id), "BALANCE"),
                "UpdateExpression": "SET #credits = :c, #sms = :s, #lms = :l, #email = :e, #open = :open, "
                "#version = :next",
                "ConditionExpression": "#version = :expected AND :c >= :zero AND :s >= :zero "
                "AND :l >= :zero AND :e >= :zero",
                "ExpressionAttributeNames": {
                    "#credits": "credits", "#sms": "sms", "#lms": "lms", "#email": "email", "#version": "version",
                    "#open": "open_charges",
                },
                "ExpressionAttributeValues": to_attributes(
                    {
                        ":c": after.credits,
                        ":s": after.sms,
                        ":l": after.lms,
                        ":e": after.email,
                        ":open": _dump(after)["open_charges"],
                        ":next": change.before.version + 1,
                        ":expected": change.before.version,
                        ":zero": 0,
                    }
                ),
            }
        }

    def _ledger_put(self, entry: LedgerEntryItem) -> dict[str, Any]:
        put = self._put(account_pk(entry.account_id), f"LEDGER#{entry.entry_id}", _dump(entry))
        put["Put"]["ConditionExpression"] = "attribute_not_exists(pk)"
        return put

    def _balance_ops(self, change: BalanceChange | None) -> list[dict[str, Any]]:
        if change is None:
            return []
        return [
            self._balance_update(change),
            *map(self._ledger_put, (change.entry, *change.extra_entries)),
            *map(self._outbox_put, change.events),
        ]

    def _outbox_put(self, event: OutboxEvent) -> dict[str, Any]:
        return self._put(
            account_pk(event.account_id), f"OUTBOX#{event.event_id}",
            {**_dump(event), "gsi2pk": "OUTBOX", "gsi2sk": f"{to_rfc3339(event.created_at)}#{event.event_id}"},
        )

    def delete_outbox(self, events: Sequence[OutboxEvent]) -> None:
        self._batch_requests([
            {"DeleteRequest": {"Key": _key(account_pk(e.account_id), f"OUTBOX#{e.event_id}")}} for e in events
        ])

    def stale_outbox(self, older_than: datetime, limit: int = 100) -> list[OutboxEvent]:
        """Events whose publisher died after its transaction committed (found through the sparse gsi2)."""
        response = self._client.query(
            TableName=self._table, IndexName="gsi2",
            KeyConditionExpression="gsi2pk = :o AND gsi2sk < :before",
            ExpressionAttributeValues=to_attributes({":o": "OUTBOX", ":before": to_rfc3339(older_than)}),
            Limit=limit,
        )
        return [OutboxEvent.model_validate(from_attributes(i)) for i in response.get("Items", [])]

    # --- accounts ----------------------------------------------------------------------------

    def create_account(self, account: AccountItem, api_key_hash: str) -> None:
        pk = account_pk(account.account_id)
        new_only = {"ConditionExpression": "attribute_not_exists(pk)"}
        self._transact(
            [
                {"Put": {**self._put(pk, "PROFILE", _dump(account))["Put"], **new_only}},
                {"Put": {**self._put(pk, "BALANCE", _dump(Balance(account_id=account.account_id)))["Put"],
                         **new_only}},
                {"Put": {**self._put(f"APIKEY#{api_key_hash}", "APIKEY",
                                     {"account_id": account.account_id})["Put"], **new_only}},
            ]
        )

    def get_account(self, account_id: str) -> AccountItem | None:
        item = self._get(account_pk(account_id), "PROFILE")
        return AccountItem.model_validate(item) if item else None

    def account_id_for_key_hash(self, api_key_hash: str) -> str | None:
        item = self._get(f"APIKEY#{api_key_hash}", "APIKEY")
        return str(item["account_id"]) if item else None

    def set_gift_approval(self, account_id: str, approved: bool) -> None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_key(account_pk(account_id), "PROFILE"),
                UpdateExpression="SET gift_sending_approved = :a",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=to_attributes({":a": approved}),
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise NotFound("account not found") from error
            raise

    def get_balance(self, account_id: str) -> Balance:
        item = self._get(account_pk(account_id), "BALANCE", consistent=True)
        if item is None:
            raise NotFound("account not found")
        return Balance.model_validate(item)

    def top_up_amount(self, account_id: str, reference: str) -> int | None:
        """The amount credited under a settled top-up reference, or None when the reference is new."""
        marker = self._get(account_pk(account_id), f"TOPUP#{reference}", consistent=True)
        if marker is None:
            return None
        if "amount" in marker:
            return int(marker["amount"])
        # Settled before markers kept the amount: the ledger entry written with the marker has it.
        entry = self._get(account_pk(account_id), f"LEDGER#{marker['entry_id']}", consistent=True)
        return int(entry["credits_delta"]) if entry else None

    def commit_top_up(self, change: BalanceChange, reference: str) -> None:
        marker = self._put(
            account_pk(change.after.account_id), f"TOPUP#{reference}",
            {"entry_id": change.entry.entry_id, "amount": change.entry.credits_delta},
        )
        marker["Put"]["ConditionExpression"] = "attribute_not_exists(pk)"
        self._transact([*self._balance_ops(change), marker])

    def list_ledger(self, account_id: str, limit: int, cursor: str | None) -> Page[LedgerEntryItem]:
        return self._query_page(
            LedgerEntryItem, account_pk(account_id), sk_prefix="LEDGER#", limit=limit, cursor=cursor
        )

    def all_ledger_entries(self, account_id: str) -> Iterator[LedgerEntryItem]:
        cursor: str | None = None
        while True:
            page = self.list_ledger(account_id, 200, cursor)
            yield from page.items
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    # --- charges and alerts ------------------------------------------------------------------

    def commit_balance_change(self, change: BalanceChange) -> None:
        self._transact(self._balance_ops(change))

    def commit_charge(self, change: BalanceChange, charge: ChargeItem) -> None:
        put = self._put(account_pk(charge.account_id), f"CHARGE#{charge.charge_id}", _dump(charge))
        put["Put"]["ConditionExpression"] = "attribute_not_exists(pk)"
        self._transact([*self._balance_ops(change), put])

    def commit_charge_refund(self, change: BalanceChange, charge: ChargeItem) -> None:
        refunded = {
            "Update": {
                "TableName": self._table,
                "Key": _key(account_pk(charge.account_id), f"CHARGE#{charge.charge_id}"),
                "UpdateExpression": "SET #s = :refunded",
                "ConditionExpression": "#s = :active",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": to_attributes({":refunded": "REFUNDED", ":active": "ACTIVE"}),
            }
        }
        self._transact([*self._balance_ops(change), refunded])

    def get_charge(self, account_id: str, charge_id: str) -> ChargeItem | None:
        item = self._get(account_pk(account_id), f"CHARGE#{charge_id}", consistent=True)
        return ChargeItem.model_validate(item) if item else None

    def list_charges(self, account_id: str, limit: int, cursor: str | None) -> Page[ChargeItem]:
        return self._query_page(ChargeItem, account_pk(account_id), sk_prefix="CHARGE#", limit=limit, cursor=cursor)

    def get_alerts(self, account_id: str) -> AlertSettings | None:
        item = self._get(account_pk(account_id), "ALERTS")
        return AlertSettings.model_validate(item) if item else None

    def put_alerts(self, account_id: str, alerts: AlertSettings) -> None:
        self._client.put_item(
            TableName=self._table,
            Item=to_attributes({**_dump(alerts), "pk": account_pk(account_id), "sk": "ALERTS"}),
        )

    # --- catalog and wishlist ----------------------------------------------------------------

    def list_gifts(self) -> list[GiftItem]:
        items: list[GiftItem] = []
        cursor: str | None = None
        while True:
            page = self._query_page(
                GiftItem, "CATALOG", sk_prefix="GIFT#", limit=200, cursor=cursor, newest_first=False
            )
            items.extend(page.items)
            if not page.next_cursor:
                return sorted(items, key=lambda g: (g.position, g.gift_id))
            cursor = page.next_cursor

    def get_gift(self, gift_id: str) -> GiftItem | None:
        item = self._get("CATALOG", f"GIFT#{gift_id}")
        return GiftItem.model_validate(item) if item else None

    def put_gifts(self, gifts: Sequence[GiftItem]) -> None:
        self._batch_write({**_dump(g), "pk": "CATALOG", "sk": f"GIFT#{g.gift_id}"} for g in gifts)

    def put_wish(self, account_id: str, gift_id: str, at: datetime) -> None:
        self._client.put_item(
            TableName=self._table,
            Item=to_attributes(
                {"pk": account_pk(account_id), "sk": f"WISH#{gift_id}", "gift_id": gift_id,
                 "added_at": to_rfc3339(at)}
            ),
        )

    def delete_wish(self, account_id: str, gift_id: str) -> None:
        self._client.delete_item(TableName=self._table, Key=_key(account_pk(account_id), f"WISH#{gift_id}"))

    def wished_gift_ids(self, account_id: str) -> list[str]:
        ids: list[str] = []
        params: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :p)",
            "ExpressionAttributeValues": to_attributes({":pk": account_pk(account_id), ":p": "WISH#"}),
        }
        while True:
            response = self._client.query(**params)
            ids.extend(str(from_attributes(i)["gift_id"]) for i in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return ids
            params["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    # --- promotions --------------------------------------------------------------------------

    def put_promotion(self, promotion: PromotionItem) -> None:
        self._client.put_item(
            TableName=self._table,
            Item=to_attributes(
                {**_dump(promotion), "pk": account_pk(promotion.account_id),
                 "sk": f"PROMOTION#{promotion.promotion_id}"}
            ),
            ConditionExpression="attribute_not_exists(pk)",
        )

    def get_promotion(self, account_id: str, promotion_id: str) -> PromotionItem | None:
        item = self._get(account_pk(account_id), f"PROMOTION#{promotion_id}")
        return PromotionItem.model_validate(item) if item else None

    def list_promotions(self, account_id: str, limit: int, cursor: str | None) -> Page[PromotionItem]:
        return self._query_page(
            PromotionItem, account_pk(account_id), sk_prefix="PROMOTION#", limit=limit, cursor=cursor
        )

    def set_auto_notification(self, account_id: str, promotion_id: str, settings: dict[str, Any]) -> None:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_key(account_pk(account_id), f"PROMOTION#{promotion_id}"),
                UpdateExpression="SET auto_notification = :a",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=to_attributes({":a": settings}),
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise NotFound("promotion not found") from error
            raise

    @staticmethod
    def _winners_pk(account_id: str, promotion_id: str) -> str:
        return f"{account_pk(account_id)}#PROMOTION#{promotion_id}#WINNERS"

    def record_draw(self, chunks: Sequence[WinnerChunk], event: OutboxEvent) -> None:
        """Winners first, then the event that announces them, written to the outbox in one transaction."""
        self._batch_write(
            {**_dump(c), "pk": self._winners_pk(c.account_id, c.promotion_id), "sk": f"{c.draw_id}#{c.chunk_no:05d}"}
            for c in chunks
        )
        self._transact([self._outbox_put(event)])

    def winner_chunks(
        self, account_id: str, promotion_id: str, *, draw_id: str = "", from_sk: str = "", limit: int = 1000
    ) -> list[tuple[str, WinnerChunk]]:
        """(sk, chunk) in recorded order: one draw's (`draw_id`) or all from `from_sk` on (inclusive)."""
        values: dict[str, Any] = {":pk": self._winners_pk(account_id, promotion_id)}
        condition = "pk = :pk"
        if draw_id:
            condition, values[":draw"] = condition + " AND begins_with(sk, :draw)", f"{draw_id}#"
        elif from_sk:
            condition, values[":from"] = condition + " AND sk >= :from", from_sk
        params: dict[str, Any] = {"TableName": self._table, "KeyConditionExpression": condition,
                                  "ExpressionAttributeValues": to_attributes(values), "Limit": limit}
        found: list[tuple[str, WinnerChunk]] = []
        while True:
            response = self._client.query(**params)
            for raw in response.get("Items", []):
                item = from_attributes(raw)
                found.append((str(item["sk"]), WinnerChunk.model_validate(item)))
            if "LastEvaluatedKey" not in response or len(found) >= limit:
                return found
            params["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def get_many(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
        """One BatchGetItem (consistent) for up to 100 keys; missing keys are absent from the result."""
        found: dict[tuple[str, str], dict[str, Any]] = {}
        request: dict[str, Any] = {
            self._table: {"Keys": [_key(pk, sk) for pk, sk in keys], "ConsistentRead": True}
        }
        while request:
            response = self._client.batch_get_item(RequestItems=request)
            for raw in response.get("Responses", {}).get(self._table, []):
                item = from_attributes(raw)
                found[(item["pk"], item["sk"])] = item
            request = response.get("UnprocessedKeys") or {}
        return found

    # --- sends -------------------------------------------------------------------------------

    def send_attributes(self, send: SendItem, *, dispatch_at: datetime | None) -> dict[str, Any]:
        values = {
            **_dump(send),
            "pk": account_pk(send.account_id),
            "sk": send_sk(send.kind, send.send_id),
            "gsi1pk": f"{account_pk(send.account_id)}#{send.kind}_SENDS#{send.promotion_id}",
            "gsi1sk": send.send_id,
        }
        if dispatch_at is not None:
            values |= {"gsi2pk": "DISPATCH", "gsi2sk": f"{to_rfc3339(dispatch_at)}#{send.send_id}"}
        return values

    def create_send(self, send: SendItem, batches: Sequence[BatchItem], *, dispatch_at: datetime | None) -> int:
        """Batches first, the send item last: a send only becomes visible (and dispatchable) once every
        recipient is durably stored. Returns the number of requests made."""
        batch_puts = ({**_dump(b), **batch_key(b.send_id, b.batch_no)} for b in batches)
        requests = self._batch_write(batch_puts)
        self._client.put_item(
            TableName=self._table,
            Item=to_attributes(self.send_attributes(send, dispatch_at=dispatch_at)),
            ConditionExpression="attribute_not_exists(pk)",
        )
        return requests + 1

    def claim_id(self, account_id: str, idempotency_key: str, new_id: str, expires_at: int) -> str:
        """The id bound to an Idempotency-Key: the given one if this is the first claim, else the earlier
        one. A retry after a crash thereby finishes the same send or charge instead of making another."""
        key = _key(account_pk(account_id), f"IDEMPOTENCY#{idempotency_key}")
        try:
            self._client.put_item(
                TableName=self._table,
                Item={**key, **to_attributes({"claimed_id": new_id, "expires_at": expires_at})},
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            item = self._client.get_item(TableName=self._table, Key=key, ConsistentRead=True)["Item"]
            return str(from_attributes(item)["claimed_id"])
        return new_id

    def change_send_status(
        self, send: SendItem, from_statuses: Sequence[str], to_status: str, dispatch_at: datetime | None
    ) -> bool:
        """Move a send between stored statuses if it is still in one of `from_statuses` (False if not).
        With `dispatch_at` the send (re)enters the dispatch index; without, it leaves it."""
        values: dict[str, Any] = {":to": to_status, **{f":from{i}": s for i, s in enumerate(from_statuses)}}
        update = "SET #s = :to"
        if dispatch_at is not None:
            update += ", gsi2pk = :d, gsi2sk = :due"
            values |= {":d": "DISPATCH", ":due": f"{to_rfc3339(dispatch_at)}#{send.send_id}"}
        else:
            update += " REMOVE gsi2pk, gsi2sk"
        try:
            self._client.update_item(
                TableName=self._table,
                Key=_key(account_pk(send.account_id), send_sk(send.kind, send.send_id)),
                UpdateExpression=update,
                ConditionExpression=f"#s IN ({', '.join(f':from{i}' for i in range(len(from_statuses)))})",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=to_attributes(values),
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def mark_dispatched(self, account_id: str, kind: str, send_id: str) -> None:
        self._client.update_item(
            TableName=self._table,
            Key=_key(account_pk(account_id), send_sk(kind, send_id)),
            UpdateExpression="REMOVE gsi2pk, gsi2sk",
        )

    def get_send(self, account_id: str, kind: str, send_id: str) -> SendItem | None:
        item = self._get(account_pk(account_id), send_sk(kind, send_id), consistent=True)
        return SendItem.model_validate(item) if item else None

    def list_sends(
        self, account_id: str, kind: str, promotion_id: str | None, limit: int, cursor: str | None
    ) -> Page[SendItem]:
        if promotion_id:
            return self._query_page(
                SendItem,
                f"{account_pk(account_id)}#{kind}_SENDS#{promotion_id}",
                sk_prefix="",
                limit=limit,
                cursor=cursor,
                index="gsi1",
            )
        return self._query_page(
            SendItem, account_pk(account_id), sk_prefix=f"{kind}_SEND#", limit=limit, cursor=cursor
        )

    def get_batch(self, send_id: str, batch_no: int) -> BatchItem | None:
        key = batch_key(send_id, batch_no)
        item = self._get(key["pk"], key["sk"], consistent=True)
        return BatchItem.model_validate(item) if item else None

    def batches_from(self, send_id: str, first_batch: int, limit: int) -> list[BatchItem]:
        response = self._client.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND sk >= :from",
            ExpressionAttributeValues=to_attributes(
                {":pk": f"SEND#{send_id}", ":from": batch_key(send_id, first_batch)["sk"]}
            ),
            Limit=limit,
        )
        return [BatchItem.model_validate(from_attributes(i)) for i in response.get("Items", [])]

    # --- background processing: the batch state machine ---------------------------------------

    def _batch_update(
        self,
        batch: BatchItem,
        recipients: list[RecipientState],
        reservation: Reservation | None,
        retry_at: datetime | None = None,
    ) -> dict[str, Any]:
        """Also keeps the batch's two sparse index entries: gsi1 while it holds resendable failures (for
        resends), gsi2 while it waits for an automatic retry (for the retry job)."""
        key = batch_key(batch.send_id, batch.batch_no)
        values: dict[str, Any] = {
            ":expected": batch.version,
            ":next": batch.version + 1,
            ":recipients": [r.model_dump(mode="json", exclude_none=True) for r in recipients],
        }
        sets = ["#version = :next", "#recipients = :recipients"]
        removes = []
        if reservation is not None:
            sets.append("#reservation = :reservation")
            values[":reservation"] = _dump(reservation)
        else:
            removes.append("#reservation")
        if any(r.status == "FAILED" and r.resendable for r in recipients):
            sets += ["gsi1pk = :resendable", "gsi1sk = :batch"]
            values |= {":resendable": f"SEND#{batch.send_id}#RESENDABLE", ":batch": key["sk"]}
        else:
            removes += ["gsi1pk", "gsi1sk"]
        if retry_at is not None:
            sets += ["gsi2pk = :retry", "gsi2sk = :retry_at"]
            values |= {":retry": "RETRY", ":retry_at": f"{to_rfc3339(retry_at)}#{batch.send_id}#{batch.batch_no:05d}"}
        else:
            removes += ["gsi2pk", "gsi2sk"]
        update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        return {
            "Update": {
                "TableName": self._table,
                "Key": to_attributes(batch_key(batch.send_id, batch.batch_no)),
                "UpdateExpression": update,
                "ConditionExpression": "#version = :expected",
                "ExpressionAttributeNames": {
                    "#version": "version", "#recipients": "recipients", "#reservation": "reservation",
                },
                "ExpressionAttributeValues": to_attributes(values),
            }
        }

    def commit_reservation(
        self, batch: BatchItem, reservation: Reservation, debit: BalanceChange | None
    ) -> None:
        """Debit and reservation land together or not at all."""
        self._transact([self._batch_update(batch, batch.recipients, reservation), *self._balance_ops(debit)])

    def commit_settlement(
        self,
        batch: BatchItem,
        recipients: list[RecipientState],
        send_kind: str,
        counts_delta: SendCounts,
        settled: int,
        refund: BalanceChange | None,
        retry_at: datetime | None = None,
    ) -> None:
        """Outcomes, the send's counters and any refund land together, exactly once per reservation."""
        counters = {
            "Update": {
                "TableName": self._table,
                "Key": _key(account_pk(batch.account_id), send_sk(send_kind, batch.send_id)),
                "UpdateExpression": "SET #c.pending = #c.pending + :p, #c.sent = #c.sent + :s, "
                "#c.failed = #c.failed + :f, #c.resendable = #c.resendable + :r, #processed = #processed + :n",
                "ExpressionAttributeNames": {"#c": "counts", "#processed": "processed"},
                "ExpressionAttributeValues": to_attributes(
                    {
                        ":p": counts_delta.pending,
                        ":s": counts_delta.sent,
                        ":f": counts_delta.failed,
                        ":r": counts_delta.resendable,
                        ":n": settled,
                    }
                ),
            }
        }
        self._transact([self._batch_update(batch, recipients, None, retry_at), counters, *self._balance_ops(refund)])

    def resendable_batches(self, send_id: str) -> list[int]:
        """Batches of a send holding resendable failures, through the sparse gsi1 (no scan)."""
        numbers: list[int] = []
        params: dict[str, Any] = {
            "TableName": self._table, "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :p",
            "ExpressionAttributeValues": to_attributes({":p": f"SEND#{send_id}#RESENDABLE"}),
            "ProjectionExpression": "batch_no",
        }
        while True:
            response = self._client.query(**params)
            numbers += [int(from_attributes(i)["batch_no"]) for i in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                return sorted(numbers)
            params["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def batches_due_for_retry(self, now: datetime, limit: int = 100) -> list[BatchItem]:
        """Batches whose provider errors are due an automatic retry, through the sparse gsi2."""
        response = self._client.query(
            TableName=self._table, IndexName="gsi2",
            KeyConditionExpression="gsi2pk = :r AND gsi2sk <= :now",
            ExpressionAttributeValues=to_attributes({":r": "RETRY", ":now": f"{to_rfc3339(now)}#~"}),
            Limit=limit,
        )
        return [BatchItem.model_validate(from_attributes(i)) for i in response.get("Items", [])]


def require_item(item: dict[str, Any] | None, what: str) -> dict[str, Any]:
    if item is None:
        raise NotFound(f"{what} not found")
    return item


def require(item: ModelT | None, what: str) -> ModelT:
    if item is None:
        raise NotFound(f"{what} not found")
    return item


class DispatchIndex:
    """The sparse index (gsi2) of sends waiting to be dispatched, ordered by when they are due."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def due(self, now: datetime, limit: int = 100) -> list[SendItem]:
        response = self._client.query(
            TableName=self._table,
            IndexName="gsi2",
            KeyConditionExpression="gsi2pk = :d AND gsi2sk <= :now",
            ExpressionAttributeValues=to_attributes({":d": "DISPATCH", ":now": f"{to_rfc3339(now)}#~"}),
            Limit=limit,
        )
        return [SendItem.model_validate(from_attributes(i)) for i in response.get("Items", [])]
