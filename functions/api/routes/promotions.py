from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import Router

from functions.api.dependencies import data_store
from functions.api.responses import Cursor, Limit, PathId, created
from shared.domain import promotions
from shared.http.principal import current_account_id
from shared.models.api import CreatePromotionRequest, PromotionView
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
