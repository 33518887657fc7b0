"""Response helpers and the query/header parameter types the routes share."""

from __future__ import annotations

from typing import Annotated, TypeVar

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from pydantic import BaseModel

ModelT = TypeVar("ModelT", bound=BaseModel)

PathId = Annotated[str, Path(min_length=1, max_length=64)]
Limit = Annotated[int, Query(ge=1, le=200, description="Page size (1-200)")]
Cursor = Annotated[str | None, Query(max_length=2048, description="Opaque cursor from next_cursor")]
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=128, description="Retry-safe key")
]


def _json(status: int, model: BaseModel) -> Response:
    # The model itself, not its JSON: Powertools validates it against the route's Response[...] type.
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=model)


def ok(model: BaseModel) -> Response:
    return _json(200, model)


def created(model: BaseModel) -> Response:
    return _json(201, model)


def accepted(model: BaseModel) -> Response:
    return _json(202, model)


def no_content() -> Response:
    return Response(status_code=204, content_type=content_types.APPLICATION_JSON, body=None)
