from __future__ import annotations

from aws_lambda_powertools.event_handler.router import Router

from functions.api.dependencies import data_store
from functions.api.responses import Cursor, Limit
from shared.domain import accounts, alerts
from shared.http.principal import current_account_id
from shared.models.api import AccountView, AlertsView, LedgerEntryView
from shared.models.common import Page

router = Router()


@router.get("/account", tags=["account"])
def get_account() -> AccountView:
    return accounts.account_view(data_store(), current_account_id(router))


@router.get("/account/ledger", tags=["account"])
def get_ledger(limit: Limit = 50, cursor: Cursor = None) -> Page[LedgerEntryView]:
    return accounts.ledger_page(data_store(), current_account_id(router), limit, cursor)


@router.get("/account/alerts", tags=["account"])
def get_alerts() -> AlertsView:
    return alerts.get_alerts(data_store(), current_account_id(router))


@router.put("/account/alerts", tags=["account"])
def put_alerts(body: AlertsView) -> AlertsView:
    return alerts.put_alerts(data_store(), current_account_id(router), body)
