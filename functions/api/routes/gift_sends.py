from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.router import Router

from functions.api.dependencies import data_store, event_publisher, gift_send_queue
from functions.api.idempotency import IdempotentCall, once
from functions.api.responses import Cursor, IdempotencyKey, Limit, PathId, accepted, ok
from shared.domain.gifts import gift_sends
from shared.domain.gifts.gift_sends import GIFT
from shared.domain.sends import send_actions
from shared.http.principal import current_account_id
from shared.models.api import (
    GiftRecipientView,
    GiftSendEstimate,
    GiftSendRequest,
    GiftSendView,
    Resent,
    SendAccepted,
)
from shared.models.common import Page, RecipientStatus
from shared.settings import api_settings

router = Router()


def _create(call: IdempotentCall) -> SendAccepted:
    return gift_sends.create_gift_send(
        data_store(),
        gift_send_queue(),
        call.account_id,
        GiftSendRequest.model_validate(call.body),
        api_settings().recipients_per_batch,
        call.idempotency_key or None,
    )


@router.post(
    "/gift-sends",
    tags=["gift sends"],
    responses={202: {"description": "Send accepted"}, 200: {"description": "dry_run estimate"}},
    summary="Send gifticons",
    description=(
        "Sends a gift to each recipient: now, at send_at, or after submit (draft). Each valid recipient is debited the "
        "gift's price when it is issued; invalid phones are FAILED / INVALID_RECIPIENT at once and never charged. "
        "dry_run returns the cost estimate and creates nothing. An Idempotency-Key makes a retry return the first "
        "answer."
    ),
)
def create_gift_send(
    body: Annotated[GiftSendRequest, Body()], idempotency_key: IdempotencyKey = None
) -> Response[SendAccepted | GiftSendEstimate]:
    account_id = current_account_id(router)
    if body.dry_run:
        return ok(gift_sends.estimate_gift_send(data_store(), account_id, body))
    body_json = router.current_event.json_body
    return accepted(once("gift-send", account_id, idempotency_key, body_json, _create, SendAccepted))


@router.get(
    "/gift-sends",
    tags=["gift sends"],
    summary="List gift sends",
    description="The account's gift sends, newest first, optionally of one promotion.",
)
def list_gift_sends(
    promotion_id: Annotated[str | None, Query(max_length=64)] = None, limit: Limit = 50, cursor: Cursor = None
) -> Page[GiftSendView]:
    return gift_sends.list_gift_sends(data_store(), current_account_id(router), promotion_id, limit, cursor)


@router.get(
    "/gift-sends/<send_id>",
    tags=["gift sends"],
    summary="Get a gift send",
    description="One gift send: its status and how many recipients are pending, sent, failed and resendable.",
)
def get_gift_send(send_id: PathId) -> GiftSendView:
    return gift_sends.get_gift_send(data_store(), current_account_id(router), send_id)


@router.get(
    "/gift-sends/<send_id>/recipients",
    tags=["gift sends"],
    summary="List a gift send's recipients",
    description=(
        "Each recipient's status, failure reason, credits charged and coupon, optionally only those of one status."
    ),
)
def list_gift_recipients(
    send_id: PathId,
    status: Annotated[RecipientStatus | None, Query()] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[GiftRecipientView]:
    return gift_sends.list_gift_recipients(data_store(), current_account_id(router), send_id, status, limit, cursor)


@router.post(
    "/gift-sends/<send_id>/submit",
    tags=["gift sends"],
    summary="Submit a draft gift send",
    description="A DRAFT starts now, or at its send_at (SCHEDULED). Any other status is 409 INVALID_STATE.",
)
def submit_gift_send(send_id: PathId) -> GiftSendView:
    sent = send_actions.submit(data_store(), gift_send_queue(), current_account_id(router), GIFT, send_id)
    return gift_sends.gift_send_view(sent)


@router.post(
    "/gift-sends/<send_id>/cancel",
    tags=["gift sends"],
    summary="Cancel a gift send",
    description=(
        "A DRAFT or SCHEDULED send becomes CANCELLED and nothing is sent or charged. Any other status is 409 "
        "INVALID_STATE."
    ),
)
def cancel_gift_send(send_id: PathId) -> GiftSendView:
    return gift_sends.gift_send_view(
        send_actions.cancel(data_store(), current_account_id(router), GIFT, send_id, event_publisher())
    )


@router.post(
    "/gift-sends/<send_id>/resend",
    tags=["gift sends"],
    responses={202: {"description": "Resent"}},
    summary="Resend failed gifts",
    description=(
        "Every resendable failure goes back to PENDING and is processed again at the then-current balance and price."
    ),
)
def resend_gift_send(send_id: PathId) -> Response[Resent]:
    resent = send_actions.resend_send(data_store(), gift_send_queue(), current_account_id(router), GIFT, send_id)
    return accepted(Resent(resent=resent))


@router.post(
    "/gift-sends/<send_id>/recipients/<recipient_id>/resend",
    tags=["gift sends"],
    responses={202: {"description": "Resent"}},
    summary="Resend one failed gift",
    description=(
        "The recipient goes back to PENDING and is processed again; one that is not resendable is 409 NOT_RESENDABLE."
    ),
)
def resend_gift_recipient(send_id: PathId, recipient_id: PathId) -> Response[Resent]:
    account_id = current_account_id(router)
    resent = send_actions.resend_recipient(data_store(), gift_send_queue(), account_id, GIFT, send_id, recipient_id)
    return accepted(Resent(resent=resent))
