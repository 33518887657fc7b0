"""Writes template.yaml as plain CloudFormation (SAM transform applied, as CloudFormation would), so IaC scanners
see the IAM roles and policies SAM generates. Runs with the aws-sam-cli venv: `.venv-sam/bin/python
scripts/translate_template.py OUT.json`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from samcli.yamlhelper import yaml_parse
from samtranslator.translator.transform import transform


class _NoManagedPolicies:
    """The template names no AWS managed policies by name, so there is nothing to look up in IAM."""

    def load(self) -> dict[str, str]:
        return {}


def main() -> int:
    os.environ.setdefault("AWS_DEFAULT_REGION", "ap-northeast-2")
    template = yaml_parse((Path(__file__).resolve().parent.parent / "template.yaml").read_text())
    # Code locations are local folders until `sam package`; a scanner does not need the code.
    for properties in [
        template.get("Globals", {}).get("Function", {}),
        *(r.get("Properties", {}) for r in template["Resources"].values()),
    ]:
        for key in ("CodeUri", "ContentUri"):  # functions, layers
            if key in properties:
                properties[key] = "s3://code-bucket/code.zip"
    translated = transform(template, {}, _NoManagedPolicies())
    # A function's reviewed scanner exceptions (Metadata.checkov) belong to the role SAM generates for it.
    for logical_id, resource in template["Resources"].items():
        reviewed = resource.get("Metadata", {}).get("checkov")
        role = translated["Resources"].get(f"{logical_id}Role")
        if reviewed and role:
            role.setdefault("Metadata", {})["checkov"] = reviewed
    Path(sys.argv[1]).write_text(json.dumps(translated, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
