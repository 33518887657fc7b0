"""The REST API: one resolver, every route group, one error map, the fair-use limit, the key-scope rule,
Swagger UI."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.api.dependencies import IDEMPOTENCY_CONFIG
from functions.api.fair_use import limit_account_requests
from functions.api.routes import (
    account,
    admin,
    catalog,
    charges,
    gift_sends,
    notification_sends,
    promotions,
    webhooks,
)
from shared.http.errors import register_error_handlers
from shared.http.json_body import parse_json_body
from shared.http.principal import enforce_key_scope
from shared.http.resolver import JsonRestResolver
from shared.models.api import HealthView
from shared.observability import service_logger

logger = service_logger()
metrics = Metrics(namespace="WinNotifications")

# The fair-use limit first, before any middleware or route reads the request.
app = JsonRestResolver(enable_validation=True, json_body_deserializer=parse_json_body, guards=[limit_account_requests])
app.use(middlewares=[enforce_key_scope])
register_error_handlers(app)
for module in (admin, account, catalog, promotions, gift_sends, notification_sends, charges, webhooks):
    app.include_router(module.router)


def swagger_options() -> dict[str, Any]:
    from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

    return {
        "title": "Win Notifications API",
        "version": "1.0.0",
        "security_schemes": {"bearerAuth": HTTPBearer()},
        "security": [{"bearerAuth": []}],
    }


app.serve_swagger("/swagger", swagger_options)


@app.get(
    "/health",
    tags=["health"],
    summary="Health check",
    description='Answers 200 {"status": "ok"} while the API is up. Needs no API key.',
)
def health() -> HealthView:
    return HealthView()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # In-progress idempotency records then expire with this invocation, so a retry after a crash can run.
    IDEMPOTENCY_CONFIG.register_lambda_context(context)
    return app.resolve(event, context)
