"""The delivery-report consumer's Lambda entry point: each SQS record reaches the record handler, a failing one is
reported as a batch item failure (SQS hands it over again)."""

from __future__ import annotations

from typing import Any

import pytest

from functions.delivery_reports import handler
from tests.lambda_events import LambdaContextStub, sqs_event


def _messages(*bodies: str) -> list[dict[str, Any]]:
    return [{"MessageId": f"m{n}", "ReceiptHandle": f"h{n}", "Body": body} for n, body in enumerate(bodies)]


def test_every_record_reaches_the_record_handler(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    monkeypatch.setattr(handler, "record_handler", lambda record: seen.append(record["body"]))
    answer = handler.lambda_handler(sqs_event(_messages('{"reports": []}', "{}")), LambdaContextStub())
    assert seen == ['{"reports": []}', "{}"]
    assert answer == {"batchItemFailures": []}


def test_a_record_that_fails_is_handed_back(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail_second(record: dict[str, Any]) -> None:
        if record["messageId"] == "m1":
            raise RuntimeError("not ready")

    monkeypatch.setattr(handler, "record_handler", fail_second)
    answer = handler.lambda_handler(sqs_event(_messages("{}", "{}")), LambdaContextStub())
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
