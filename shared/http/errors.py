"""Domain errors to HTTP, in one place, with the contract's error body."""

from __future__ import annotations

import binascii
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

from shared import errors
from shared.domain.notifications.messages import MAX_DETAILS
from shared.models.api import ErrorBody

logger = Logger(child=True)

HTTP_STATUS: dict[type[errors.DomainError], int] = {
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.GiftSendingNotApproved: 403,
    errors.NotFound: 404,
    errors.InsufficientCredits: 409,
    errors.GiftUnavailable: 409,
    errors.NotResendable: 409,
    errors.RefundNotAllowed: 409,
    errors.InvalidState: 409,
    errors.IdempotencyKeyReused: 409,
    errors.UserExists: 409,
    errors.InvalidInput: 422,
    errors.RateLimited: 429,
}


def error_response(
    status: int,
    code: str,
    message: str,
    details: list[dict] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = ErrorBody(code=code, message=message, details=details)
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=body.model_dump_json(exclude_none=True),
        headers=headers,
    )


def _status_for(error: errors.DomainError) -> int:
    for kind in type(error).__mro__:
        if kind in HTTP_STATUS:
            return HTTP_STATUS[kind]
    return 400


MAX_LOC_CHARS = 64
"""A location names a field; an unknown key from the request is echoed only this far."""


def _loc_part(part: Any) -> Any:
    if isinstance(part, str) and len(part) > MAX_LOC_CHARS:
        return part[:MAX_LOC_CHARS] + "..."
    return part


def _clean(detail: dict[str, Any]) -> dict[str, Any]:
    # Echoing the rejected input back could leak it into logs or exceed limits; keep where and why.
    return {
        "loc": [_loc_part(p) for p in detail.get("loc", ())],
        "msg": str(detail.get("msg", "")),
        "type": detail.get("type", ""),
    }


def _domain_detail(detail: dict[str, Any], message: str) -> dict[str, Any]:
    """A domain rule's detail in the same shape as a schema error's (loc, msg, type), keeping any extra keys."""
    return {
        "loc": list(detail.get("loc", ())),
        "msg": detail.get("msg") or message,
        "type": detail.get("type") or "value_error",
        **{k: v for k, v in detail.items() if k not in ("loc", "msg", "type")},
    }


def _validation_details(found: list[Any]) -> tuple[str, list[dict[str, Any]]]:
    """At most MAX_DETAILS details (the message counts them all): a request with 100,000 unknown keys must not
    get an answer larger than the largest response a Lambda function can return (6 MB, else a 502)."""
    message = "request is not valid"
    if len(found) > MAX_DETAILS:
        message += f" ({len(found)} problems; the first {MAX_DETAILS} are listed)"
    return message, [_clean(d) for d in found[:MAX_DETAILS]]


def register_error_handlers(app: APIGatewayRestResolver) -> None:
    @app.exception_handler(errors.DomainError)
    def domain_error(error: errors.DomainError) -> Response:
        details = (
            [_domain_detail(d, error.message) for d in error.details]
            if isinstance(error, errors.InvalidInput)
            else None
        )
        headers = {"Retry-After": str(error.retry_after)} if isinstance(error, errors.RateLimited) else None
        return error_response(_status_for(error), error.code, error.message, details, headers)

    @app.exception_handler(RequestValidationError)
    def validation_error(error: RequestValidationError) -> Response:
        found = list(error.errors())
        if any(d.get("type") == "json_invalid" for d in found):
            return error_response(400, "BAD_REQUEST", "request body is not valid JSON")
        message, details = _validation_details(found)
        return error_response(422, "VALIDATION_ERROR", message, details)

    @app.exception_handler(RequestUnsupportedContentType)
    def unsupported_content_type(_: RequestUnsupportedContentType) -> Response:
        return error_response(400, "BAD_REQUEST", "request body must be JSON (Content-Type: application/json)")

    @app.exception_handler(IdempotencyValidationError)
    def key_reused(_: IdempotencyValidationError) -> Response:
        return error_response(409, "IDEMPOTENCY_KEY_REUSED", "Idempotency-Key was used with a different body")

    @app.exception_handler(IdempotencyAlreadyInProgressError)
    def in_progress(_: IdempotencyAlreadyInProgressError) -> Response:
        return error_response(409, "INVALID_STATE", "a request with this Idempotency-Key is in progress")

    @app.not_found
    def not_found(_: Exception) -> Response:
        return error_response(404, "NOT_FOUND", "no such resource")

    @app.exception_handler(Exception)
    def unexpected(error: Exception) -> Response:
        logger.exception("unhandled error")
        return error_response(500, "INTERNAL_ERROR", "internal error")

    @app.exception_handler([UnicodeDecodeError, binascii.Error])
    def undecodable_body(error: ValueError) -> Response:
        # Powertools decodes a base64 body (isBase64Encoded) before parsing it: bytes that are not base64, or
        # not UTF-8, are not JSON either. The same errors from anywhere else remain internal errors.
        try:
            app.current_event.decoded_body  # noqa: B018 - raises again when the body is what failed
        except ValueError:
            return error_response(400, "BAD_REQUEST", "request body is not valid UTF-8 JSON")
        return unexpected(error)
