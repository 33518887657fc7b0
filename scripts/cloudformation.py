"""Reads a CloudFormation/SAM template, short-form intrinsics included.

`!Ref X` becomes `{"Ref": "X"}`, `!GetAtt A.B` becomes `{"Fn::GetAtt": ["A", "B"]}`, `!Sub ...` becomes
`{"Fn::Sub": ...}` and so on: the long form CloudFormation itself reads, as `sam` and the AWS CLI parse it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

_NO_FN_PREFIX = frozenset({"Ref", "Condition"})


class _TemplateLoader(yaml.SafeLoader):
    """SafeLoader plus CloudFormation's short-form tags."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = suffix if suffix in _NO_FN_PREFIX else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {name: value}


_TemplateLoader.add_multi_constructor("!", _intrinsic)


def load_template(path: Path) -> dict[str, Any]:
    """The template as plain data (an empty dict when the file holds no mapping)."""
    data = yaml.load(path.read_text(), Loader=_TemplateLoader)  # noqa: S506 - a SafeLoader subclass
    return data if isinstance(data, dict) else {}
