from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import Router

from functions.api.dependencies import data_store, gift_provider
from functions.api.responses import PathId, created
from shared.domain import accounts, catalog
from shared.models.api import (
    AccountCreated,
    CatalogSyncResult,
    CreateAccountRequest,
    CreditsBalance,
    GiftApproval,
    GiftApprovalRequest,
    TopUpRequest,
)

router = Router()


@router.post("/admin/accounts", tags=["admin"], responses={201: {"description": "Account created"}})
def create_account(body: CreateAccountRequest) -> Response[AccountCreated]:
    return created(accounts.create_account(data_store(), body.name))


@router.post("/admin/accounts/<account_id>/gift-approval", tags=["admin"])
def set_gift_approval(account_id: PathId, body: GiftApprovalRequest) -> GiftApproval:
    return accounts.set_gift_approval(data_store(), account_id, body.approved)


@router.post("/admin/accounts/<account_id>/credits", tags=["admin"])
def top_up_credits(account_id: PathId, body: TopUpRequest) -> CreditsBalance:
    return accounts.top_up_credits(data_store(), account_id, body.amount, body.reference)


@router.post("/admin/catalog/sync", tags=["admin"])
def sync_catalog() -> CatalogSyncResult:
    return catalog.sync_catalog(data_store(), gift_provider())
