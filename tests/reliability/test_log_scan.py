"""The log scan of `make verify` finds personal data and secrets in clear, and only those."""

from __future__ import annotations

import json

import pytest

from reliability.verify import leak_kinds
from shared.observability import mask_personal_data


@pytest.mark.parametrize(
    ("line", "kinds"),
    [
        ('{"message": "sending to 010-1234-5678"}', ["phone"]),
        ('{"phone": "01012345678"}', ["phone"]),
        ('{"phone": "+82 10-1234-5678"}', ["phone"]),
        ('{"to": "winner@example.com"}', ["email"]),
        ('{"key": "wn_live_AbC123xyz_-9"}', ["api_key"]),
        ('{"authorization": "Bearer 8UXuphrunXk3dRena9BzM1BhW"}', ["bearer"]),
        ('{"coupon_id": "CPN-0123456789ABCDEF"}', ["coupon"]),
    ],
)
def test_clear_values_are_found(line: str, kinds: list[str]) -> None:
    assert leak_kinds(line) == kinds


@pytest.mark.parametrize(
    "line",
    [
        '{"message": "sending to ***78"}',
        '{"to": "***@example.com"}',
        '{"key": "wn_live_***", "authorization": "Bearer ***"}',
        '{"function_request_id": "0a1b2c3d-0101-2345-6789-01012345678a"}',  # hex ids are not phones
        '{"xray_trace_id": "1-6745e0c1-01012345678901234567abcd", "account_id": "acc_01a210e10c17fd2eda00f7e6"}',
    ],
)
def test_masked_values_and_ids_are_clean(line: str) -> None:
    assert leak_kinds(line) == []


def test_what_the_logger_masks_passes_the_scan() -> None:
    line = json.dumps({"message": mask_personal_data("to 010-1234-5678, winner@example.com, key wn_live_abcdef123")})
    assert leak_kinds(line) == []
