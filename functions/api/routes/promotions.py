from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import Router

from functions.api.dependencies import data_store, event_publisher
from functions.api.responses import Cursor, Limit, PathId, accepted, created
from shared.domain.promotions import promotions, winners
from shared.http.principal import current_account_id
from shared.models.api import (
    AutoNotificationRequest,
    CreatePromotionRequest,
    PromotionView,
    RecordWinnersRequest,
    WinnersAccepted,
    WinnerView,
)
from shared.models.common import Page

router = Router()


@router.post(
    "/promotions",
    tags=["promotions"],
    responses={201: {"description": "Promotion created"}},
    summary="Create a promotion",
    description="Creates a promotion: the event whose winners get gifticons and notifications.",
)
def create_promotion(body: CreatePromotionRequest) -> Response[PromotionView]:
    return created(promotions.create_promotion(data_store(), current_account_id(router), body.name))


@router.get(
    "/promotions",
    tags=["promotions"],
    summary="List promotions",
    description="The account's promotions.",
)
def list_promotions(limit: Limit = 50, cursor: Cursor = None) -> Page[PromotionView]:
    return promotions.list_promotions(data_store(), current_account_id(router), limit, cursor)


@router.get(
    "/promotions/<promotion_id>",
    tags=["promotions"],
    summary="Get a promotion",
    description="One promotion, with its automatic winner notification if set.",
)
def get_promotion(promotion_id: PathId) -> PromotionView:
    return promotions.get_promotion(data_store(), current_account_id(router), promotion_id)


@router.put(
    "/promotions/<promotion_id>/auto-notification",
    tags=["promotions"],
    summary="Set the automatic winner notification",
    description=(
        "The message winners get as soon as they are recorded, with the same rules as a notification send's message. "
        "enabled false stops it."
    ),
)
def set_auto_notification(promotion_id: PathId, body: AutoNotificationRequest) -> PromotionView:
    return winners.set_auto_notification(data_store(), current_account_id(router), promotion_id, body)


@router.post(
    "/promotions/<promotion_id>/winners",
    tags=["promotions"],
    responses={202: {"description": "Winners recorded"}},
    summary="Record winners",
    description=(
        "Records a draw's winners (1-10,000). With the automatic notification enabled they get it without further "
        "calls: a notification send with origin AUTO appears under the promotion."
    ),
)
def record_winners(promotion_id: PathId, body: RecordWinnersRequest) -> Response[WinnersAccepted]:
    account_id = current_account_id(router)
    return accepted(winners.record_winners(data_store(), event_publisher(), account_id, promotion_id, body))


@router.get(
    "/promotions/<promotion_id>/winners",
    tags=["promotions"],
    summary="List winners",
    description="The promotion's winners in the order they were recorded, phones in E.164.",
)
def list_winners(promotion_id: PathId, limit: Limit = 50, cursor: Cursor = None) -> Page[WinnerView]:
    return winners.list_winners(data_store(), current_account_id(router), promotion_id, limit, cursor)
