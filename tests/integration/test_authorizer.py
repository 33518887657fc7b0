"""The Lambda authorizer against moto: SSM admin key, hashed account keys, 401 for the rest."""

from __future__ import annotations

from typing import Any

import pytest

from functions.authorizer.handler import lambda_handler as authorize
from tests.integration.api_client import ADMIN
from tests.integration.conftest import ADMIN_KEY
from tests.lambda_events import LambdaContextStub

STAGE = "arn:aws:execute-api:ap-northeast-2:123456789012:abc123/v1"
ARN = f"{STAGE}/GET/account"


def _event(token: str) -> dict[str, Any]:
    return {"type": "TOKEN", "authorizationToken": token, "methodArn": ARN}


def test_admin_key_from_ssm(aws: dict[str, Any]) -> None:
    result = authorize(_event(f"Bearer {ADMIN_KEY}"), LambdaContextStub())
    assert result["context"] == {"role": "admin", "account_id": ""}
    (statement,) = result["policyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Resource"] == [f"{STAGE}/*/admin", f"{STAGE}/*/admin/*"]


def test_account_key_maps_to_its_account(aws: dict[str, Any]) -> None:
    created = ADMIN.post("/admin/accounts", {"name": "Shop"}).body
    result = authorize(_event(f"Bearer {created['api_key']}"), LambdaContextStub())
    assert result["context"] == {"role": "account", "account_id": created["account_id"]}
    assert result["principalId"] == created["account_id"]
    allow, deny = result["policyDocument"]["Statement"]
    assert (allow["Effect"], allow["Resource"]) == ("Allow", f"{STAGE}/*")
    assert (deny["Effect"], deny["Resource"]) == ("Deny", [f"{STAGE}/*/admin", f"{STAGE}/*/admin/*"])


@pytest.mark.parametrize("token", ["Bearer wn_live_unknown", "", "Basic abc", f"Bearer {ADMIN_KEY}x"])
def test_unknown_keys_are_unauthorized(aws: dict[str, Any], token: str) -> None:
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorize(_event(token), LambdaContextStub())
