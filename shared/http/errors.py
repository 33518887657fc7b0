"""Domain errors to HTTP, in one place, with the contract's error body."""

from __future__ import annotations

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
    errors.RequestInProgress: 409,
    errors.IdempotencyKeyReused: 409,
    errors.InvalidInput: 422,
}


def error_response(status: int, code: str, message: str, details: list[dict] | None = None) -> Response:
    body = ErrorBody(code=code, message=message, details=details)
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=body.model_dump_json(exclude_none=True),
    )


def _status_for(error: errors.DomainError) -> int:
    for kind in type(error).__mro__:
        if kind in HTTP_STATUS:
            return HTTP_STATUS[kind]
    return 400


def _clean(detail: dict[str, Any]) -> dict[str, Any]:
    # Echoing the rejected input back could leak it into logs or exceed limits; keep where and why.
    return {"loc": list(detail.get("loc", ())), "msg": str(detail.get("msg", "")), "type": detail.get("type", "")}


def register_error_handlers(app: APIGatewayRestResolver) -> None:
    @app.exception_handler(errors.DomainError)
    def domain_error(error: errors.DomainError) -> Response:
        details = error.details if isinstance(error, errors.InvalidInput) else None
        return error_response(_status_for(error), error.code, error.message, details)

    @app.exception_handler(RequestValidationError)
    def validation_error(error: RequestValidationError) -> Response:
        details = [_clean(d) for d in error.errors()]
        if any(d["type"] == "json_invalid" for d in details):
            return error_response(400, "BAD_REQUEST", "request body is not valid JSON")
        return error_response(422, "VALIDATION_ERROR", "request is not valid", details)

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
