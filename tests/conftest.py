"""Shared test helpers: the template's own table definitions, so the schema lives in one place."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

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
