"""The gift catalog and each account's wishlist."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from shared.adapters.store import keys
from shared.adapters.store.records import Records
from shared.adapters.store.table import dump
from shared.domain.clock import to_rfc3339
from shared.models.items import GiftItem


class CatalogRecords(Records):
    def list_gifts(self) -> list[GiftItem]:
        """Every gift, in catalog order."""
        items, _ = self._table.query(keys.CATALOG, ("begins_with", keys.GIFT))
        return sorted((GiftItem.model_validate(i) for i in items), key=lambda g: (g.position, g.gift_id))

    def get_gift(self, gift_id: str) -> GiftItem | None:
        item = self._table.get(keys.gift(gift_id))
        return GiftItem.model_validate(item) if item else None

    def put_gifts(self, gifts: Sequence[GiftItem]) -> None:
        self._table.batch_put((keys.gift(g.gift_id), dump(g)) for g in gifts)

    def put_wish(self, account_id: str, gift_id: str, at: datetime) -> None:
        self._table.put(keys.wish(account_id, gift_id), {"gift_id": gift_id, "added_at": to_rfc3339(at)})

    def delete_wish(self, account_id: str, gift_id: str) -> None:
        self._table.delete(keys.wish(account_id, gift_id))

    def wished_gift_ids(self, account_id: str) -> list[str]:
        items, _ = self._table.query(keys.account(account_id), ("begins_with", keys.WISH))
        return [str(i["gift_id"]) for i in items]
