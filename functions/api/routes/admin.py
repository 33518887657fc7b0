from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import Router

from functions.api.dependencies import data_store, gift_provider, user_directory
from functions.api.responses import PathId, created
from shared.domain.accounts import accounts, users
from shared.domain.gifts import catalog
from shared.models.api import (
    AccountCreated,
    CatalogSyncResult,
    CreateAccountRequest,
    CreateUserRequest,
    CreditsBalance,
    GiftApproval,
    GiftApprovalRequest,
    TopUpRequest,
    UserCreated,
)

router = Router()


@router.post(
    "/admin/accounts",
    tags=["admin"],
    responses={201: {"description": "Account created"}},
    summary="Create an account",
    description=(
        "Creates a business account and returns its API key. The key is shown only in this answer and stored only as a "
        "hash. Admin key only."
    ),
)
def create_account(body: CreateAccountRequest) -> Response[AccountCreated]:
    return created(accounts.create_account(data_store(), body.name))


@router.post(
    "/admin/accounts/<account_id>/gift-approval",
    tags=["admin"],
    summary="Approve or revoke gift sending",
    description=(
        "Records whether the account's business registration has been reviewed; only an approved account may send "
        "gifticons. Admin key only."
    ),
)
def set_gift_approval(account_id: PathId, body: GiftApprovalRequest) -> GiftApproval:
    return accounts.set_gift_approval(data_store(), account_id, body.approved)


@router.post(
    "/admin/accounts/<account_id>/credits",
    tags=["admin"],
    summary="Top up credits",
    description=(
        "Credits a settled credit purchase to the account. The same reference with the same amount credits once; a "
        "reference already used for another amount is 409 IDEMPOTENCY_KEY_REUSED and credits nothing. Admin key only."
    ),
)
def top_up_credits(account_id: PathId, body: TopUpRequest) -> CreditsBalance:
    return accounts.top_up_credits(data_store(), account_id, body.amount, body.reference)


@router.post(
    "/admin/accounts/<account_id>/users",
    tags=["admin"],
    responses={201: {"description": "User created"}},
    summary="Create a dashboard user",
    description=(
        "Creates a person of the account who signs in to the dashboard with this email. The temporary password is "
        "shown only in this answer; the first sign-in replaces it. A signed-in user's token works as "
        "`Authorization: Bearer <token>` on every account route, with exactly the rights of the account's key. "
        "404 for an unknown account, 409 USER_EXISTS for an email that already has a user. Admin key only."
    ),
)
def create_user(account_id: PathId, body: CreateUserRequest) -> Response[UserCreated]:
    return created(users.create_user(data_store(), user_directory(), account_id, body.email, body.name))


@router.post(
    "/admin/catalog/sync",
    tags=["admin"],
    summary="Sync the gift catalog",
    description=(
        "Pulls the gift provider's catalog now: new and changed gifts are updated, gifts no longer offered become "
        "DISCONTINUED. A scheduled job also does this daily. Admin key only."
    ),
)
def sync_catalog() -> CatalogSyncResult:
    return catalog.sync_catalog(data_store(), gift_provider())
