"""Promotions and their winners."""

from __future__ import annotations

from collections.abc import Sequence

from shared.adapters.store import keys
from shared.adapters.store.records import Records
from shared.adapters.store.table import SortCondition, dump
from shared.errors import NotFound
from shared.models.common import Page
from shared.models.items import AutoNotification, OutboxEvent, PromotionItem, WinnerChunk


class PromotionRecords(Records):
    def put_promotion(self, promotion: PromotionItem) -> None:
        self._table.put(keys.promotion(promotion.account_id, promotion.promotion_id), dump(promotion), new_only=True)

    def get_promotion(self, account_id: str, promotion_id: str) -> PromotionItem | None:
        item = self._table.get(keys.promotion(account_id, promotion_id))
        return PromotionItem.model_validate(item) if item else None

    def list_promotions(self, account_id: str, limit: int, cursor: str | None) -> Page[PromotionItem]:
        return self._table.page(
            PromotionItem, keys.account(account_id), ("begins_with", keys.PROMOTION), limit=limit, cursor=cursor
        )

    def set_auto_notification(self, account_id: str, promotion_id: str, settings: AutoNotification) -> None:
        auto = self._table.update_op(
            keys.promotion(account_id, promotion_id),
            "SET auto_notification = :a",
            {":a": dump(settings)},
            condition="attribute_exists(pk)",
        )
        if not self._table.write(auto):
            raise NotFound("promotion not found")

    def record_draw(self, chunks: Sequence[WinnerChunk], event: OutboxEvent) -> None:
        """Winners first, then the event that announces them, written to the outbox in one transaction."""
        self._table.batch_put(
            ((keys.winners(c.account_id, c.promotion_id), keys.winner_chunk(c.draw_id, c.chunk_no)), dump(c))
            for c in chunks
        )
        self._table.transact([self._outbox_put(event)])

    def winner_chunks(
        self, account_id: str, promotion_id: str, *, draw_id: str = "", from_sk: str = "", limit: int = 1000
    ) -> list[tuple[str, WinnerChunk]]:
        """(position, chunk) in recorded order: one draw's (`draw_id`) or all from position `from_sk` on
        (inclusive)."""
        sort: SortCondition | None = None
        if draw_id:
            sort = ("begins_with", f"{draw_id}#")
        elif from_sk:
            sort = (">=", from_sk)
        items, _ = self._table.query(keys.winners(account_id, promotion_id), sort, limit=limit)
        return [(str(i["sk"]), WinnerChunk.model_validate(i)) for i in items]
