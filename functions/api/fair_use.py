"""The per-account request limit (contract: "Fair use"), checked before anything else reads the request.

Why here and not in API Gateway: per-account throttling there needs an API Gateway API key and a usage-plan key for
every account, returned by the authorizer as `usageIdentifierKey` (with the API's key source AUTHORIZER). MiniStack
1.5's API Gateway throttles by usage plan only for the key in the request's `x-api-key` header
(`_api_key_from_request`, used by `_check_throttle`) and never reads `usageIdentifierKey`, so the local stack would not
enforce the limit. One conditional DynamoDB write per request (shared.domain.accounts.fair_use) behaves the same
on both."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from functions.api.dependencies import data_store
from shared.domain.accounts.fair_use import admit_request
from shared.domain.clock import utc_now
from shared.http.principal import PUBLIC_PATHS, principal_of
from shared.settings import api_settings


def limit_account_requests(app: APIGatewayRestResolver) -> None:
    """Counts an account's request (key or dashboard user alike) or refuses it with RateLimited. The admin key, the
    public paths and the CORS preflight are not counted; a request without a key is refused later (key scope)."""
    event = app.current_event
    if event.http_method == "OPTIONS" or (event.path or "/").startswith(PUBLIC_PATHS):
        return
    principal = principal_of(app)
    if principal is None or principal.role != "account":
        return
    admit_request(data_store(), principal.account_id, api_settings().request_limit, utc_now())
