"""Who is calling, as decided by the Lambda authorizer, and which routes each kind of key may use."""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.router import Router

from shared.domain.accounts.auth import Principal
from shared.errors import Forbidden, Unauthorized

PUBLIC_PATHS = ("/health", "/swagger")


def principal_of(app: APIGatewayRestResolver | Router) -> Principal | None:
    context = app.current_event.raw_event.get("requestContext", {}).get("authorizer") or {}
    role = context.get("role")
    if role == "admin":
        return Principal(role="admin")
    if role == "account" and context.get("account_id"):
        return Principal(role="account", account_id=str(context["account_id"]))
    return None


def current_account_id(app: APIGatewayRestResolver | Router) -> str:
    principal = principal_of(app)
    if principal is None or principal.role != "account":
        raise Forbidden("an account key is required")
    return principal.account_id


def enforce_key_scope(app: APIGatewayRestResolver, next_middleware: Callable[..., Response]) -> Response:
    """Admin key only on /admin/*; account keys everywhere else; no key only on public paths."""
    path = app.current_event.path or "/"
    if app.current_event.http_method == "OPTIONS":
        return next_middleware(app)  # a CORS preflight carries no key; no route answers it, only the CORS headers
    if path.startswith(PUBLIC_PATHS):
        return next_middleware(app)
    principal = principal_of(app)
    if principal is None:
        raise Unauthorized("a valid API key is required")
    is_admin_path = path == "/admin" or path.startswith("/admin/")
    if is_admin_path != (principal.role == "admin"):
        raise Forbidden("this key may not use this route")
    return next_middleware(app)
