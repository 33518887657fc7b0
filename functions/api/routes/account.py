from __future__ import annotations

from aws_lambda_powertools.event_handler.router import Router

from functions.api.dependencies import data_store
from functions.api.responses import Cursor, Limit
from shared.domain.accounts import accounts, alert_settings
from shared.http.principal import current_account_id
from shared.models.api import AccountView, AlertsView, LedgerEntryView
from shared.models.common import Page

router = Router()


@router.get(
    "/account",
    tags=["account"],
    summary="Get the account",
    description=(
        "The calling account: its name, whether it may send gifticons, its credits and its notification counts per "
        "channel."
    ),
)
def get_account() -> AccountView:
    return accounts.account_view(data_store(), current_account_id(router))


@router.get(
    "/account/ledger",
    tags=["account"],
    summary="List the ledger",
    description=(
        "Every change to credits and notification counts, newest first: top-ups, gift debits and refunds, count "
        "purchases and refunds, notification debits and refunds. The entries sum to the balances."
    ),
)
def get_ledger(limit: Limit = 50, cursor: Cursor = None) -> Page[LedgerEntryView]:
    return accounts.ledger_page(data_store(), current_account_id(router), limit, cursor)


@router.get(
    "/account/alerts",
    tags=["account"],
    summary="Get balance alerts",
    description=(
        "The thresholds below which a BalanceLow event is published, for credits and for each channel's counts."
    ),
)
def get_alerts() -> AlertsView:
    return alert_settings.get_alerts(data_store(), current_account_id(router))


@router.put(
    "/account/alerts",
    tags=["account"],
    summary="Set balance alerts",
    description=(
        "Sets the thresholds: when a debit takes credits or a channel's counts from at or above a threshold to below "
        "it, one BalanceLow event is published. null or an absent channel means no alert."
    ),
)
def put_alerts(body: AlertsView) -> AlertsView:
    return alert_settings.put_alerts(data_store(), current_account_id(router), body)
