"""What a cold start imports: modules only some requests need stay out of the handlers' import (make bench measures
the time; these tests keep the reasons for it from coming back)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

OPENAPI_MODELS = "aws_lambda_powertools.event_handler.openapi.models"


def modules_after_import(module: str) -> set[str]:
    """sys.modules after importing ``module`` in a fresh interpreter."""
    script = f"import json, sys; import {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True,
        env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "ap-northeast-2"},
    )  # fmt: skip
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


def test_the_api_imports_the_openapi_models_only_for_swagger() -> None:
    assert OPENAPI_MODELS not in modules_after_import("functions.api.handler")


@pytest.mark.parametrize("handler", ["functions.api.handler", "functions.send_notification.handler"])
def test_email_validation_is_imported_only_when_an_address_is_checked(handler: str) -> None:
    assert "email_validator" not in modules_after_import(handler)
