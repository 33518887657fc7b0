"""The DynamoDB store's paging: one pager and one cursor codec for every list, and a cursor that can never move
into another account's data."""

from __future__ import annotations

import base64
import json
from typing import Any

import boto3
import pytest

from shared.adapters.store import DataStore
from shared.cursor import encode_cursor
from shared.errors import InvalidInput
from shared.models.items import BatchItem, pack_recipients
from tests.integration.api_client import ADMIN, new_account
from tests.integration.conftest import TABLE


def _store() -> DataStore:
    return DataStore(boto3.client("dynamodb"), TABLE)


def _top_ups(account_id: str, count: int) -> None:
    for n in range(count):
        reply = ADMIN.post(f"/admin/accounts/{account_id}/credits", {"amount": 10 + n, "reference": f"r{n}"})
        assert reply.status == 200


def test_a_cursor_pages_only_the_callers_own_partition(aws: dict[str, Any]) -> None:
    owner, other = new_account("Owner"), new_account("Other")
    _top_ups(other.account_id, 2)  # older than the owner's entries: they sort after the owner's cursor
    _top_ups(owner.account_id, 3)
    store = _store()
    first = store.list_ledger(owner.account_id, 1, None)
    assert first.next_cursor
    assert owner.account_id not in base64.urlsafe_b64decode(first.next_cursor + "==").decode()  # opaque, no pk

    rest = store.list_ledger(owner.account_id, 10, first.next_cursor)
    assert [e.credits_delta for e in first.items + rest.items] == [12, 11, 10]
    # The owner's cursor in the other account's listing: the partition comes from the caller, never the cursor.
    borrowed = store.list_ledger(other.account_id, 10, first.next_cursor)
    assert [(e.account_id, e.credits_delta) for e in borrowed.items] == [(other.account_id, 11), (other.account_id, 10)]


def test_sends_of_a_promotion_page_through_the_index(aws: dict[str, Any]) -> None:
    client = new_account()
    promotion = client.post("/promotions", {"name": "p"}).body["promotion_id"]
    other = client.post("/promotions", {"name": "q"}).body["promotion_id"]
    body = {"channel": "sms", "content": "hi", "recipients": [{"phone": "010-1234-5678"}], "draft": True}
    ids = [client.post("/notification-sends", {**body, "promotion_id": promotion}).body["send_id"] for _ in range(3)]
    client.post("/notification-sends", {**body, "promotion_id": other})

    seen: list[str] = []
    cursor = None
    for _ in range(5):
        query = {"promotion_id": promotion, "limit": "2", **({"cursor": cursor} if cursor else {})}
        page = client.get("/notification-sends", query=query).body
        seen += [s["send_id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids[::-1]


@pytest.mark.parametrize("position", [{}, {"sk": "LEDGER#x", "extra": "y"}, {"pk": "ACCOUNT#x"}, ["sk"], {"sk": 1}])
def test_a_cursor_of_another_shape_is_invalid_input(aws: dict[str, Any], position: Any) -> None:
    client = new_account()
    with pytest.raises(InvalidInput):
        _store().list_ledger(client.account_id, 10, encode_cursor(position))


def test_position_cursors_of_recipients_and_winners_are_checked(aws: dict[str, Any]) -> None:
    client = new_account()
    promotion = client.post("/promotions", {"name": "p"}).body["promotion_id"]
    send_id = client.post(
        "/notification-sends",
        {
            "promotion_id": promotion,
            "channel": "sms",
            "content": "hi",
            "recipients": [{"phone": "010-1234-5678"}],
            "draft": True,
        },
    ).body["send_id"]
    for path in (f"/notification-sends/{send_id}/recipients", f"/promotions/{promotion}/winners"):
        for position in ([-1, 0], [0, 0, 0], {"a": 1}, [0.5, 1]):
            cursor = base64.urlsafe_b64encode(json.dumps(position).encode()).decode()
            reply = client.get(path, query={"cursor": cursor})
            assert (reply.status, reply.body["code"]) == (422, "VALIDATION_ERROR"), (path, position)


def test_a_batch_is_stored_packed_and_read_back_whole(aws: dict[str, Any]) -> None:
    client = new_account()
    promotion = client.post("/promotions", {"name": "p"}).body["promotion_id"]
    phones = [f"010-5000-{1000 + n}" for n in range(50)]
    body = {"channel": "sms", "content": "hi", "recipients": [{"phone": p, "name": "Kim"} for p in phones]}
    send_id = client.post("/notification-sends", {**body, "promotion_id": promotion, "draft": True}).body["send_id"]
    stored = boto3.client("dynamodb").query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"SEND#{send_id}"}},
    )["Items"]
    assert stored and all(set(raw["recipients"]) == {"B"} for raw in stored)  # binary, not a list of maps
    assert sum(len(raw["recipients"]["B"]) for raw in stored) < 2_000  # 50 recipients as maps: about 5 KB
    batches = _store().batches_from(send_id, 0, 100)
    assert [(r.phone, r.name, r.status) for b in batches for r in b.recipients] == [
        (f"+82105000{1000 + n}", "Kim", "PENDING") for n in range(50)
    ]


def test_a_batch_stored_as_a_list_of_recipients_still_reads() -> None:
    recipient = {"rid": "r00000", "phone": "+821012345678", "status": "SENT", "updated_at": "2026-12-01T00:00:00Z"}
    item = {"send_id": "s", "account_id": "a", "kind": "GIFT", "batch_no": 0, "recipients": [recipient]}
    packed = {**item, "recipients": pack_recipients(BatchItem.model_validate(item).recipients)}
    assert BatchItem.model_validate(packed) == BatchItem.model_validate(item)
