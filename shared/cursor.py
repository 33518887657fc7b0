"""The one page-token codec: a position (any JSON value) as URL-safe base64, checked against its expected shape
when it comes back. Whoever pages decides what the position holds; a token that does not decode to exactly that
shape is a 422."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from shared.errors import InvalidInput

PositionT = TypeVar("PositionT")


def encode_cursor(position: Any) -> str:
    text = json.dumps(position, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, shape: TypeAdapter[PositionT]) -> PositionT:
    try:
        text = base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode())
        # pydantic's JSON parser bounds nesting depth itself: a deeply nested token is a ValidationError too.
        return shape.validate_json(text, strict=True)
    except (ValidationError, binascii.Error, ValueError) as error:
        raise not_a_cursor() from error


def not_a_cursor() -> InvalidInput:
    return InvalidInput("cursor is not valid", [{"loc": ["query", "cursor"], "msg": "not a cursor"}])
