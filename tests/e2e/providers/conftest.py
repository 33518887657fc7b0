"""Fixtures of the provider end-to-end run: the stack deployed with GiftProvider=giftishow and
NotificationProvider=solapi against the wire-level fakes as processes (tests/e2e/providers/stack.py, which
`make test-e2e-providers` runs, with WN_STACK_ENV=.local/providers/stack.env).

A stack.env without the fakes' URLs (the sandbox stack of `make test-e2e`) skips these tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import boto3
import pytest
import requests

from tests.e2e.conftest import HTTP_TIMEOUT, Stack


@dataclass(frozen=True)
class FakeControl:
    """A fake's ``/_fake/`` controls over HTTP."""

    url: str  # the fake's root, http://127.0.0.1:<port>

    def calls(self) -> dict[str, int]:
        return dict(self.get("calls")["calls"])

    def get(self, control: str) -> dict[str, Any]:
        reply = requests.get(f"{self.url}/_fake/{control}", timeout=HTTP_TIMEOUT)
        assert reply.status_code == 200, reply.text
        return dict(reply.json())

    def post(self, control: str, body: dict[str, Any]) -> dict[str, Any]:
        reply = requests.post(f"{self.url}/_fake/{control}", json=body, timeout=HTTP_TIMEOUT)
        assert reply.status_code == 200, reply.text
        return dict(reply.json())


@dataclass(frozen=True)
class Fakes:
    giftishow: FakeControl
    solapi: FakeControl


@pytest.fixture(scope="session")
def fakes(stack: Stack) -> Fakes:
    giftishow, solapi = stack.env.get("GIFTISHOW_FAKE_URL"), stack.env.get("SOLAPI_FAKE_URL")
    if not giftishow or not solapi:
        pytest.skip("the stack was not deployed against the provider fakes (make test-e2e-providers)")
    return Fakes(FakeControl(giftishow.removesuffix("/bizApi")), FakeControl(solapi))


@pytest.fixture(scope="session")
def aws(stack: Stack) -> Any:
    """A boto3 session for the stack's MiniStack (dummy credentials, its endpoint and region)."""
    return boto3.session.Session(
        aws_access_key_id=stack.env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=stack.env["AWS_SECRET_ACCESS_KEY"],
        region_name=stack.env["AWS_REGION"],
    )


def function_name(stack: Stack, aws: Any, logical_id: str) -> str:
    cfn = aws.client("cloudformation", endpoint_url=stack.env["AWS_ENDPOINT_URL"])
    resource = cfn.describe_stack_resource(StackName=stack.env["STACK_NAME"], LogicalResourceId=logical_id)
    return str(resource["StackResourceDetail"]["PhysicalResourceId"])
