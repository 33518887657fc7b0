"""Calls the API Lambda handler in-process, as API Gateway would after the authorizer."""

from __future__ import annotations

import json
from typing import Any

from tests.api_calls import ApiCalls, Reply, open_account
from tests.lambda_events import LambdaContextStub, api_event


def reply_from_lambda(response: dict[str, Any]) -> Reply:
    """The API Lambda's proxy response as a Reply (multi-value headers joined, as API Gateway sends them)."""
    text = response.get("body") or ""
    headers = {k: ", ".join(v) for k, v in (response.get("multiValueHeaders") or {}).items()}
    headers |= response.get("headers") or {}
    return Reply(response["statusCode"], json.loads(text) if text else None, headers, text)


class ApiClient(ApiCalls):
    def __init__(self, role: str | None = "account", account_id: str = "") -> None:
        self.role = role
        self.account_id = account_id

    def call(self, method: str, path: str, body: Any = None, **options: Any) -> Reply:
        """``options``: tests.lambda_events.api_event's (headers, query, raw_body)."""
        from functions.api.handler import lambda_handler

        event = api_event(method, path, body=body, role=self.role, account_id=self.account_id, **options)
        return reply_from_lambda(lambda_handler(event, LambdaContextStub()))


ADMIN = ApiClient(role="admin")


def new_account(name: str = "Acme", *, approved: bool = True, credits: int = 0) -> ApiClient:
    """Creates an account through the admin API and returns a client acting for it."""
    account_id, _ = open_account(ADMIN, name, approved=approved, credits=credits)
    return ApiClient(role="account", account_id=account_id)
