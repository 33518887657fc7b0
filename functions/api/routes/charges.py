"""Charges: buying notification counts with credits (mounted in the API function's resolver)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import Router

from functions.api.dependencies import data_store, event_publisher
from functions.api.idempotency import IdempotentCall, once
from functions.api.responses import Cursor, IdempotencyKey, Limit, PathId, created
from shared.domain.charges import charges
from shared.http.principal import current_account_id
from shared.models.api import ChargeRefund, ChargeRequest, ChargeView, NotificationBalance, PricingView
from shared.models.common import Page
from shared.settings import api_settings

router = Router()


def unit_credits() -> NotificationBalance:
    settings = api_settings()
    return NotificationBalance(
        sms=settings.sms_unit_credits, lms=settings.lms_unit_credits, email=settings.email_unit_credits
    )


@router.get(
    "/pricing",
    tags=["charges"],
    summary="Get notification prices",
    description="How many credits one SMS, LMS or email count costs when bought with POST /charges.",
)
def get_pricing() -> PricingView:
    current_account_id(router)
    return charges.pricing(unit_credits())


def _buy(call: IdempotentCall) -> ChargeView:
    request = ChargeRequest.model_validate(call.body)
    unit = getattr(unit_credits(), request.channel)
    return charges.buy_counts(
        data_store(),
        event_publisher(),
        call.account_id,
        request.channel,
        request.quantity,
        unit,
        call.idempotency_key or None,
    )


@router.post(
    "/charges",
    tags=["charges"],
    responses={201: {"description": "Counts bought"}},
    summary="Buy notification counts",
    description=(
        "Spends credits on counts of one channel (quantity times that channel's price). Without enough credits it is "
        "409 INSUFFICIENT_CREDITS and nothing changes. An Idempotency-Key makes a retry return the first answer."
    ),
)
def create_charge(body: ChargeRequest, idempotency_key: IdempotencyKey = None) -> Response[ChargeView]:
    account_id = current_account_id(router)
    return created(once("charge", account_id, idempotency_key, router.current_event.json_body, _buy, ChargeView))


@router.get(
    "/charges",
    tags=["charges"],
    summary="List charges",
    description="The account's count purchases, with their refund deadline and status.",
)
def list_charges(limit: Limit = 50, cursor: Cursor = None) -> Page[ChargeView]:
    return charges.list_charges(data_store(), current_account_id(router), limit, cursor)


@router.post(
    "/charges/<charge_id>/refund",
    tags=["charges"],
    summary="Refund a charge",
    description=(
        "Gives the charge's credits back and removes its counts, while within 7 days of the purchase and none of its "
        "counts has been used (counts are used oldest charge first); otherwise 409 REFUND_NOT_ALLOWED."
    ),
)
def refund_charge(charge_id: PathId) -> ChargeRefund:
    return charges.refund_charge(data_store(), current_account_id(router), charge_id)
