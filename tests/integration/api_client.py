"""Calls the API Lambda handler in-process, as API Gateway would after the authorizer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tests.lambda_events import LambdaContextStub, api_event


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


class ApiClient:
    def __init__(self, role: str | None = "account", account_id: str = "") -> None:
        self.role = role
        self.account_id = account_id

    def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Reply:
        from functions.api.handler import lambda_handler

        event = api_event(method, path, body=body, role=self.role, account_id=self.account_id, **kwargs)
        response = lambda_handler(event, LambdaContextStub())
        text = response.get("body") or ""
        headers = {k: ", ".join(v) for k, v in (response.get("multiValueHeaders") or {}).items()}
        headers |= response.get("headers") or {}
        return Reply(response["statusCode"], json.loads(text) if text else None, headers)

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Reply:
        return self.call("POST", path, body, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> Reply:
        return self.call("PUT", path, body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Reply:
        return self.call("DELETE", path, **kwargs)


ADMIN = ApiClient(role="admin")


def new_account(name: str = "Acme", *, approved: bool = True, credits: int = 0) -> ApiClient:
    """Creates an account through the admin API and returns a client acting for it."""
    created = ADMIN.post("/admin/accounts", {"name": name})
    assert created.status == 201, created.body
    account_id = created.body["account_id"]
    if approved:
        assert ADMIN.post(f"/admin/accounts/{account_id}/gift-approval", {"approved": True}).status == 200
    if credits:
        top_up = ADMIN.post(f"/admin/accounts/{account_id}/credits", {"amount": credits, "reference": f"seed-{name}"})
        assert top_up.status == 200, top_up.body
    return ApiClient(role="account", account_id=account_id)
