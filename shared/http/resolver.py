"""The API's REST resolver: Powertools' own, speaking JSON only and documenting what it really answers.

- A request body in any media type but JSON is a 400 BAD_REQUEST before Powertools tries to read it as form data
  (a multipart type without a boundary made Powertools raise a ValueError: a 500).
- The OpenAPI document lists every error the API can answer: Powertools documents a route's success response
  and its 422; the error map (shared/http/errors.py) can also answer 400, 401, 403, 404 and 409 on any
  authenticated route, with the contract's error envelope. A 204 is documented without a body."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import OpenAPIRequestValidationMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType
from aws_lambda_powertools.event_handler.openapi.models import OpenAPI

from shared.models.api import ErrorBody

ERROR_RESPONSES: dict[int, str] = {
    400: "Malformed JSON, or a body that is not JSON (BAD_REQUEST)",
    401: "Missing or unknown API key (UNAUTHORIZED)",
    403: "The key may not use this route (FORBIDDEN, GIFT_SENDING_NOT_APPROVED)",
    404: "No such resource for this account (NOT_FOUND)",
    409: "The request conflicts with the current state (INSUFFICIENT_CREDITS, INVALID_STATE, ...)",
    422: "The request does not satisfy the rules (VALIDATION_ERROR, INVALID_RECIPIENT, ...)",
}
PUBLIC_PATHS = frozenset({"/health"})


def document_errors(schema: OpenAPI) -> OpenAPI:
    """Adds the error envelope responses to every operation behind the authorizer and drops the JSON content
    Powertools declares for 204 responses (a 204 has no body)."""
    envelope = {"application/json": {"schema": ErrorBody.model_json_schema()}}
    for path, item in (schema.paths or {}).items():
        for method in ("get", "put", "post", "delete", "patch"):
            operation = getattr(item, method, None)
            if operation is None:
                continue
            responses: dict[int, Any] = dict(operation.responses or {})
            if 204 in responses:
                responses[204] = {"description": _description(responses[204])}
            if path not in PUBLIC_PATHS:
                for status, description in ERROR_RESPONSES.items():
                    responses[status] = {"description": description, "content": envelope}
            operation.responses = responses
    return schema


def _description(response: Any) -> str:
    return str(getattr(response, "description", None) or (response or {}).get("description") or "No Content")


def is_json_media_type(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type in ("", "application/json") or media_type.endswith("+json")


class JsonOnlyRequestValidation(OpenAPIRequestValidationMiddleware):
    """Powertools' request validation, refusing a body in another media type first."""

    def handler(self, app: Any, next_middleware: NextMiddleware) -> Any:
        event = app.current_event
        if event.body and not is_json_media_type(event.headers.get("content-type") or ""):
            raise RequestUnsupportedContentType("request body must be JSON", errors=[])
        return super().handler(app, next_middleware)


class JsonRestResolver(APIGatewayRestResolver):
    """The REST resolver with JSON-only request bodies and `document_errors` in its OpenAPI document."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if self._enable_validation:
            self._request_validation_middleware = JsonOnlyRequestValidation()

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> OpenAPI:
        return document_errors(super().get_openapi_schema(*args, **kwargs))
