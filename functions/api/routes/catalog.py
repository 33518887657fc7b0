from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.router import Router

from functions.api.dependencies import data_store
from functions.api.responses import PathId, no_content
from shared.domain.gifts import catalog
from shared.http.principal import current_account_id
from shared.models.api import GiftView
from shared.models.common import Page

router = Router()


@router.get(
    "/gifts",
    tags=["gifts"],
    summary="List gifts",
    description="The gift catalog in catalog order, with each gift's price in credits and whether it is on sale.",
)
def list_gifts() -> Page[GiftView]:
    current_account_id(router)
    return Page[GiftView](items=catalog.list_gifts(data_store()))


@router.get(
    "/wishlist",
    tags=["gifts"],
    summary="List the wishlist",
    description="The gifts the account has put on its wishlist.",
)
def get_wishlist() -> Page[GiftView]:
    return Page[GiftView](items=catalog.wishlist(data_store(), current_account_id(router)))


@router.put(
    "/wishlist/<gift_id>",
    tags=["gifts"],
    summary="Add a gift to the wishlist",
    description=(
        "Puts a catalog gift on the account's wishlist (adding it again changes nothing). An unknown gift is 404."
    ),
)
def add_to_wishlist(gift_id: PathId) -> GiftView:
    return catalog.add_to_wishlist(data_store(), current_account_id(router), gift_id)


@router.delete(
    "/wishlist/<gift_id>",
    tags=["gifts"],
    responses={204: {"description": "Removed"}},
    summary="Remove a gift from the wishlist",
    description="Takes the gift off the account's wishlist. An unknown gift is 404.",
)
def remove_from_wishlist(gift_id: PathId) -> Response[None]:
    catalog.remove_from_wishlist(data_store(), current_account_id(router), gift_id)
    return no_content()
