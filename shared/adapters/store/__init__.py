"""The DynamoDB data store: one table (item layout in keys.py), typed reads and writes of the stored models,
conditional writes mapped to domain errors. No business rules."""

from __future__ import annotations

from shared.adapters.store.accounts import AccountRecords
from shared.adapters.store.catalog import CatalogRecords
from shared.adapters.store.promotions import PromotionRecords
from shared.adapters.store.sends import DispatchIndex, SendRecords
from shared.adapters.store.webhooks import WebhookRecords

__all__ = ["DataStore", "DispatchIndex"]


class DataStore(AccountRecords, CatalogRecords, PromotionRecords, SendRecords, WebhookRecords):
    """Every part of the store over one boto3 DynamoDB client and table name."""
