"""Promotions: the campaigns that sends and winners belong to."""

from __future__ import annotations

from shared.domain.clock import utc_now
from shared.domain.store import PromotionStore, require
from shared.ids import new_id
from shared.models.api import PromotionView
from shared.models.common import Page
from shared.models.items import PromotionItem


def promotion_view(item: PromotionItem) -> PromotionView:
    return PromotionView(
        promotion_id=item.promotion_id,
        name=item.name,
        created_at=item.created_at,
        auto_notification=item.auto_notification.model_dump() if item.auto_notification else None,
    )


def create_promotion(store: PromotionStore, account_id: str, name: str) -> PromotionView:
    item = PromotionItem(promotion_id=new_id("prm"), account_id=account_id, name=name, created_at=utc_now())
    store.put_promotion(item)
    return promotion_view(item)


def get_promotion(store: PromotionStore, account_id: str, promotion_id: str) -> PromotionView:
    return promotion_view(require(store.get_promotion(account_id, promotion_id), "promotion"))


def list_promotions(store: PromotionStore, account_id: str, limit: int, cursor: str | None) -> Page[PromotionView]:
    page = store.list_promotions(account_id, limit, cursor)
    return Page[PromotionView](items=[promotion_view(p) for p in page.items], next_cursor=page.next_cursor)
