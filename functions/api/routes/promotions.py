from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import Router

from functions.api.dependencies import data_store, event_publisher
from functions.api.responses import Cursor, Limit, PathId, accepted, created
from shared.domain import promotions, winners
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


@router.post("/promotions", tags=["promotions"], responses={201: {"description": "Promotion created"}})
def create_promotion(body: CreatePromotionRequest) -> Response[PromotionView]:
    return created(promotions.create_promotion(data_store(), current_account_id(router), body.name))


@router.get("/promotions", tags=["promotions"])
def list_promotions(limit: Limit = 50, cursor: Cursor = None) -> Page[PromotionView]:
    return promotions.list_promotions(data_store(), current_account_id(router), limit, cursor)


@router.get("/promotions/<promotion_id>", tags=["promotions"])
def get_promotion(promotion_id: PathId) -> PromotionView:
    return promotions.get_promotion(data_store(), current_account_id(router), promotion_id)


@router.put("/promotions/<promotion_id>/auto-notification", tags=["promotions"])
def set_auto_notification(promotion_id: PathId, body: AutoNotificationRequest) -> PromotionView:
    return winners.set_auto_notification(data_store(), current_account_id(router), promotion_id, body)


@router.post("/promotions/<promotion_id>/winners", tags=["promotions"],
             responses={202: {"description": "Winners recorded"}})
def record_winners(promotion_id: PathId, body: RecordWinnersRequest) -> Response[WinnersAccepted]:
    account_id = current_account_id(router)
    return accepted(winners.record_winners(data_store(), event_publisher(), account_id, promotion_id, body))


@router.get("/promotions/<promotion_id>/winners", tags=["promotions"])
def list_winners(promotion_id: PathId, limit: Limit = 50, cursor: Cursor = None) -> Page[WinnerView]:
    return winners.list_winners(data_store(), current_account_id(router), promotion_id, limit, cursor)
