"""The gift catalog (synced from the provider) and each account's wishlist."""

from __future__ import annotations

from shared.domain.clock import utc_now
from shared.domain.gifts.provider import GiftProvider
from shared.domain.store import CatalogStore, require
from shared.models.api import CatalogSyncResult, GiftView
from shared.models.items import GiftItem


def sync_catalog(store: CatalogStore, provider: GiftProvider) -> CatalogSyncResult:
    """Pull the provider's catalog. Gifts the provider no longer lists become DISCONTINUED.
    `updated` counts gifts added or changed; `discontinued` those that became discontinued now."""
    current = {g.gift_id: g for g in store.list_gifts()}
    offered = {g.gift_id: g for g in provider.catalog()}
    changed: list[GiftItem] = []
    newly_discontinued = 0
    for gift_id, gift in offered.items():
        old = current.get(gift_id)
        if old != gift:
            changed.append(gift)
            if gift.status == "DISCONTINUED" and (old is None or old.status != "DISCONTINUED"):
                newly_discontinued += 1
    for gift_id, old in current.items():
        if gift_id not in offered and old.status != "DISCONTINUED":
            changed.append(old.model_copy(update={"status": "DISCONTINUED"}))
            newly_discontinued += 1
    if changed:
        store.put_gifts(changed)
    return CatalogSyncResult(updated=len(changed), discontinued=newly_discontinued)


def gift_view(gift: GiftItem) -> GiftView:
    return GiftView.model_validate(gift.model_dump())


def list_gifts(store: CatalogStore) -> list[GiftView]:
    return [gift_view(g) for g in store.list_gifts()]


def _known_gift(store: CatalogStore, gift_id: str) -> GiftItem:
    return require(store.get_gift(gift_id), "gift")


def add_to_wishlist(store: CatalogStore, account_id: str, gift_id: str) -> GiftView:
    gift = _known_gift(store, gift_id)
    store.put_wish(account_id, gift_id, utc_now())
    return gift_view(gift)


def remove_from_wishlist(store: CatalogStore, account_id: str, gift_id: str) -> None:
    _known_gift(store, gift_id)
    store.delete_wish(account_id, gift_id)


def wishlist(store: CatalogStore, account_id: str) -> list[GiftView]:
    """Wished gifts with their current catalog price and status, in catalog order."""
    wished = set(store.wished_gift_ids(account_id))
    return [gift_view(g) for g in store.list_gifts() if g.gift_id in wished]
