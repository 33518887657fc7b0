"""The API's REST resolver: Powertools' own, speaking JSON only and documenting what it really answers.

- A request body in any media type but JSON is a 400 BAD_REQUEST before Powertools tries to read it as form data
  (a multipart type without a boundary made Powertools raise a ValueError: a 500).
- The OpenAPI document lists every error the API can answer: Powertools documents a route's success response
  and its 422; the error map (shared/http/errors.py) can also answer 400, 401, 403, 404, 409 and 429 on any
  authenticated route, with the contract's error envelope. A 204 is documented without a body.
- Guards (`guards=`) run first on every request, before its body is read or validated: a request past the account's
  fair-use limit is refused whatever it holds (functions/api/fair_use.py).
- JSON goes out as UTF-8 (Korean text as characters, not \\u escapes), labelled `charset=utf-8`.
- The OpenAPI document served on a request names the base URL that request came in by as its server (Swagger UI's
  "Try it out" then calls this deployment: the API Gateway stage, or MiniStack's path-style URL).
- CORS (`API_CORS`): the dashboard is served from another origin (CloudFront) and calls the API with
  `Authorization` and `Idempotency-Key`. Powertools puts the headers on every response it builds, errors included,
  and answers the preflight `OPTIONS` (routed here without the authorizer); API Gateway adds the origin header to
  its own errors (template.yaml `GatewayResponses`). Any origin is allowed: the API authenticates by a bearer token
  the caller must hold, never by cookies, so credentials are not allowed and a foreign page gains nothing it could
  not do without a browser."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, content_types
from aws_lambda_powertools.event_handler.api_gateway import ResponseBuilder
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import OpenAPIRequestValidationMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType
from aws_lambda_powertools.shared.json_encoder import Encoder
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.data_classes.common import BaseProxyEvent

from shared.models.api import ErrorBody

if TYPE_CHECKING:  # Powertools' OpenAPI models are imported only when a document is built (see serve_swagger)
    from aws_lambda_powertools.event_handler.openapi.models import OpenAPI

ERROR_RESPONSES: dict[int, str] = {
    400: "Malformed JSON, or a body that is not JSON (BAD_REQUEST)",
    401: "Missing or unknown API key (UNAUTHORIZED)",
    403: "The key may not use this route (FORBIDDEN, GIFT_SENDING_NOT_APPROVED)",
    404: "No such resource for this account (NOT_FOUND)",
    409: "The request conflicts with the current state (INSUFFICIENT_CREDITS, INVALID_STATE, ...)",
    422: "The request does not satisfy the rules (VALIDATION_ERROR, INVALID_RECIPIENT, ...)",
    429: "The account made more requests than fair use allows; nothing was done (RATE_LIMITED)",
}
ERROR_HEADERS: dict[int, dict[str, Any]] = {
    429: {
        "Retry-After": {
            "description": "Whole seconds (at least 1) until the account may make requests again",
            "schema": {"type": "integer", "minimum": 1},
        }
    },
}
PUBLIC_PATHS = frozenset({"/health"})
JSON_UTF8 = "application/json; charset=utf-8"
dump_json = partial(json.dumps, separators=(",", ":"), ensure_ascii=False, cls=Encoder)
API_CORS = CORSConfig(
    allow_origin="*",
    allow_headers=["Idempotency-Key"],  # besides Powertools' own list (Authorization, Content-Type, ...)
    expose_headers=["Retry-After"],  # so the dashboard can read when to try again after a 429
    max_age=600,
    allow_credentials=False,
)
_HOST = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?")  # a Host header fit to put into the document


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
                    if status in ERROR_HEADERS:
                        responses[status]["headers"] = ERROR_HEADERS[status]
            operation.responses = responses
    return schema


def _description(response: Any) -> str:
    return str(getattr(response, "description", None) or (response or {}).get("description") or "No Content")


def is_json_media_type(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type in ("", "application/json") or media_type.endswith("+json")


Guard = Callable[[APIGatewayRestResolver], None]
"""A check that refuses a request by raising a domain error (answered through the error map), else returns."""


class JsonOnlyRequestValidation(OpenAPIRequestValidationMiddleware):
    """The first middleware of every route (Powertools puts request validation first, even on the not-found
    route): the guards, then a body in another media type refused, then Powertools' request validation."""

    def __init__(self, guards: Sequence[Guard] = ()) -> None:
        super().__init__()
        self._guards = tuple(guards)

    def handler(self, app: Any, next_middleware: NextMiddleware) -> Any:
        for guard in self._guards:
            guard(app)
        event = app.current_event
        if event.body and not is_json_media_type(event.headers.get("content-type") or ""):
            raise RequestUnsupportedContentType("request body must be JSON", errors=[])
        return super().handler(app, next_middleware)


def base_url(event: APIGatewayProxyEvent) -> str | None:
    """The URL the API's routes hang off, as the caller reached it, or None when the event does not tell.

    API Gateway names its own host (`requestContext.domainName`, https); the request path before the route is
    the stage (`/v1`). A local emulator sends no domainName: its Host header is then the host, and when that is not
    the API's own `{api_id}.execute-api...` host the API was reached path-style, at `/_aws/execute-api/{api_id}`
    (MiniStack, LocalStack)."""
    context = event.request_context
    full_path, route = str(context.get("path") or ""), event.path or ""
    if not full_path.endswith(route):
        return None
    stage_path = full_path.removesuffix(route)
    if context.get("domainName"):
        host, scheme = str(context.get("domainName")), "https"
    else:
        host = event.headers.get("host") or ""
        scheme = (event.headers.get("x-forwarded-proto") or "http").split(",", 1)[0].strip()
        api_id = str(context.get("apiId") or "")
        if api_id and not host.startswith(f"{api_id}."):
            stage_path = f"/_aws/execute-api/{api_id}{stage_path}"
    if not _HOST.fullmatch(host) or scheme not in ("http", "https"):
        return None
    return f"{scheme}://{host}{stage_path}"


class Utf8JsonResponseBuilder(ResponseBuilder[BaseProxyEvent]):
    """Labels every JSON response `charset=utf-8` (Powertools says just `application/json`)."""

    def build(self, event: BaseProxyEvent, cors: Any = None) -> dict[str, Any]:
        if self.response.headers.get("Content-Type") == content_types.APPLICATION_JSON:
            self.response.headers["Content-Type"] = JSON_UTF8
        return super().build(event, cors)


class JsonRestResolver(APIGatewayRestResolver):
    """The REST resolver with JSON-only request bodies, UTF-8 JSON answers, the API's CORS headers and
    `document_errors` plus the request's base URL in its OpenAPI document."""

    def __init__(self, *, guards: Sequence[Guard] = (), **kwargs: Any) -> None:
        super().__init__(**{"serializer": dump_json, "cors": API_CORS, **kwargs})
        self._response_builder_class = Utf8JsonResponseBuilder
        if not self._enable_validation and guards:
            raise ValueError("guards run in the request validation middleware: enable_validation=True")
        if self._enable_validation:
            self._request_validation_middleware = JsonOnlyRequestValidation(guards)
        self._swagger: tuple[str, Callable[[], dict[str, Any]]] | None = None

    def serve_swagger(self, path: str, options: Callable[[], dict[str, Any]]) -> None:
        """Swagger UI and the OpenAPI document at ``path`` (Powertools' ``enable_swagger(**options())``), set up
        by the first request for that path: setting them up imports Powertools' OpenAPI models (about 0.15 s),
        which no other request needs, so a cold start does not pay for them."""
        self._swagger = (path, options)

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        if self._swagger is not None and event.get("path") == self._swagger[0]:
            path, options = self._swagger
            self._swagger = None
            self.enable_swagger(path=path, **options())
        return super().resolve(event, context)

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> OpenAPI:
        from aws_lambda_powertools.event_handler.openapi.models import Server

        event = getattr(self, "current_event", None)  # the request being answered (none before the first)
        url = base_url(event) if isinstance(event, APIGatewayProxyEvent) else None
        if url:
            kwargs["servers"] = [Server(url=url, description="This deployment")]
        return document_errors(super().get_openapi_schema(*args, **kwargs))
