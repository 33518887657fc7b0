"""SES v2 ``SendBulkEmail`` for moto, which (5.2) does not implement it: the integration tests run the real
notification consumer, whose email path is SesBulkEmailSender.

Each entry goes through moto's own SES backend like a ``SendEmail`` (so a test reads what was sent from
``ses_backends[...].sent_messages``): an unverified sender fails the whole call (MessageRejected), an address moto
finds invalid fails its entry (INVALID_PARAMETER), anything else is SUCCESS with its message id, in entry order, as
the sesv2 service model's BulkEmailEntryResult says. Only inline templates are rendered (what SesBulkEmailSender
sends): each ``{{name}}`` becomes the entry's replacement value, or the default's.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from moto.ses.exceptions import InvalidParameterValue, MessageRejectedError
from moto.sesv2.responses import SESV2Response

_VARIABLE = re.compile(r"{{\s*([A-Za-z0-9_]+)\s*}}")


def _render(text: str, data: dict[str, Any]) -> str:
    return _VARIABLE.sub(lambda match: str(data.get(match[1], "")), text)


def _send_bulk_email(self: SESV2Response) -> str:
    params = json.loads(self.body)
    source = params["FromEmailAddress"]
    template = params["DefaultContent"]["Template"]
    content = template["TemplateContent"]
    defaults = json.loads(template.get("TemplateData") or "{}")
    if not self.sesv2_backend.core_backend._is_verified_address(source):
        raise MessageRejectedError(f"Email address not verified {source}")
    results: list[dict[str, str]] = []
    for entry in params["BulkEmailEntries"]:
        replacement = entry.get("ReplacementEmailContent", {}).get("ReplacementTemplate", {})
        data = defaults | json.loads(replacement.get("ReplacementTemplateData") or "{}")
        try:
            message = self.sesv2_backend.send_email(
                source=source,
                destinations=entry["Destination"],
                subject=_render(content["Subject"], data),
                body=_render(content.get("Text") or content.get("Html") or "", data),
            )
        except InvalidParameterValue as exc:
            results.append({"Status": "INVALID_PARAMETER", "Error": str(exc)})
        else:
            results.append({"Status": "SUCCESS", "MessageId": message.id})
    return json.dumps({"BulkEmailEntryResults": results})


def add_send_bulk_email(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto answers SendBulkEmail for the rest of the test."""
    monkeypatch.setattr(SESV2Response, "send_bulk_email", _send_bulk_email, raising=False)
