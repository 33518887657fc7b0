"""Personal data never reaches a log line: phones and emails are masked in messages and extra fields."""

from __future__ import annotations

import io
import json
import logging

import pytest

import shared.domain.sends.sends  # noqa: F401 - its logger exists before the service logger is set up
from shared.observability import mask_personal_data, service_logger


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("call 010-1234-5678 now", "call ***78 now"),
        ("+821012345678", "***78"),
        ("+82 10-1234-5678", "***78"),
        ("01012345678,01098765432", "***78,***32"),
        ("kim@example.com wrote", "***@example.com wrote"),
        ("order 123456789012345 stays", "order 123456789012345 stays"),
    ],
)
def test_masking(text: str, masked: str) -> None:
    assert mask_personal_data(text) == masked


def test_log_lines_carry_no_personal_data() -> None:
    logger = service_logger()
    (handler,) = logger.handlers
    assert isinstance(handler, logging.StreamHandler)
    written = io.StringIO()
    previous = handler.setStream(written)
    try:
        logger.info(
            "sent to 010-2222-3333", extra={"recipient": {"email": "lee@example.com", "phone": "+821044445555"}}
        )
        logging.getLogger("shared.domain.sends.sends").warning("retrying %s", "park@example.org")
    finally:
        handler.setStream(previous)
    lines = [json.loads(line) for line in written.getvalue().splitlines()]
    assert len(lines) == 2
    text = json.dumps(lines)
    for secret in ("2222-3333", "lee@", "44445555", "park@"):
        assert secret not in text
    assert "***33" in text and "***@example.org" in text
