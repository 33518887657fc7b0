"""Shared test helpers: the template's own table definitions, so the schema lives in one place, the environment
boto3 sees in a test, and a guard that keeps every test on the loopback interface."""

from __future__ import annotations

import copy
import functools
import socket
from pathlib import Path
from typing import Any

import pytest

from scripts.cloudformation import load_template

ROOT = Path(__file__).resolve().parent.parent


@functools.cache
def _parsed_template() -> dict[str, Any]:
    return load_template(ROOT / "template.yaml")


def template() -> dict[str, Any]:
    """The parsed template.yaml (parsed once per process; callers get their own copy)."""
    return copy.deepcopy(_parsed_template())


def table_definition(logical_id: str, table_name: str) -> dict[str, Any]:
    """CreateTable arguments for one of the template's AWS::DynamoDB::Table resources."""
    props = _parsed_template()["Resources"][logical_id]["Properties"]
    definition: dict[str, Any] = {
        "TableName": table_name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if props.get("GlobalSecondaryIndexes"):
        definition["GlobalSecondaryIndexes"] = [
            {k: v for k, v in gsi.items() if k in ("IndexName", "KeySchema", "Projection")}
            for gsi in props["GlobalSecondaryIndexes"]
        ]
    return copy.deepcopy(definition)


def use_test_aws(
    monkeypatch: pytest.MonkeyPatch, region: str = "ap-northeast-2", endpoint_url: str | None = None, **env: str
) -> None:
    """boto3 for one test: ``region`` and dummy credentials, no profile, AWS_ENDPOINT_URL only when given (without
    it boto3 uses its own endpoints, which moto intercepts), and ``env`` besides."""
    for name, value in {
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        **env,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    if endpoint_url is None:
        monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    else:
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint_url)


_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: Any) -> Any:
    host = address[0] if isinstance(address, tuple) else address
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise RuntimeError(f"tests may not reach the network ({host})")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test is marked with its layer (unit, integration, e2e): its folder under tests/."""
    for item in items:
        layer = item.path.relative_to(ROOT / "tests").parts[0]
        if layer in ("unit", "integration", "e2e"):
            item.add_marker(layer)
