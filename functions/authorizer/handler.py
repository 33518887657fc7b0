"""Lambda TOKEN authorizer: the admin key (from SSM), an account key (looked up by its hash) or a dashboard user's
ID token (verified against the user pool's keys), which acts as its account."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.adapters.aws_clients import aws_client
from shared.adapters.cognito import UserTokenVerifier
from shared.adapters.store import DataStore
from shared.domain.accounts.auth import Principal, authenticate, bearer_token
from shared.observability import service_logger
from shared.settings import authorizer_settings

logger = service_logger()


@cache
def data_store() -> DataStore:
    return DataStore(aws_client("dynamodb"), authorizer_settings().table_name)


@cache
def user_tokens() -> UserTokenVerifier | None:
    """None while no user pool is configured: then only keys are accepted. Built once per container, so the
    pool's keys are fetched once and cached."""
    settings = authorizer_settings()
    if not (settings.user_pool_id and settings.user_pool_client_id):
        return None
    return UserTokenVerifier(settings.user_pool_id, settings.user_pool_client_id, settings.cognito_endpoint)


@cache
def parameter_store() -> SSMProvider:
    return SSMProvider(boto3_client=aws_client("ssm"))


def admin_api_key() -> str:
    # Cached for five minutes by Powertools, so a rotated key takes effect without a deploy.
    return str(parameter_store().get(authorizer_settings().admin_api_key_parameter, decrypt=True, max_age=300))


def policy(principal: Principal, method_arn: str) -> dict[str, Any]:
    """The key's scope for the whole API (the result is cached per token): the admin key may call only
    /admin routes, an account key everything else. The API enforces the same rule again."""
    stage_arn = "/".join(method_arn.split("/")[:2])
    admin_routes = [f"{stage_arn}/*/admin", f"{stage_arn}/*/admin/*"]
    if principal.role == "admin":
        statements = [{"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": admin_routes}]
    else:
        statements = [
            {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": f"{stage_arn}/*"},
            {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": admin_routes},
        ]
    return {
        "principalId": principal.account_id or "admin",
        "policyDocument": {"Version": "2012-10-17", "Statement": statements},
        "context": {"role": principal.role, "account_id": principal.account_id},
    }


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    token = bearer_token(event.get("authorizationToken"))
    principal = authenticate(token, admin_api_key(), data_store(), user_tokens())
    if principal is None:
        # API Gateway turns exactly this message into a 401.
        raise Exception("Unauthorized")
    return policy(principal, event.get("methodArn", "*/*"))
