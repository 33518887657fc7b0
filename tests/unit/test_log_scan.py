"""The log scan of `make verify` finds personal data and secrets in clear, and only those."""

from __future__ import annotations

import json
import random
import uuid

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


# --- ids are not phone numbers; real numbers are found in every spelling the API accepts ---------------------------

# Ids whose digit groups spell Korean mobile numbers: a regex read "…-821012345678" as +82 10-1234-5678, and so
# does phonenumbers' matcher once the group before it holds a letter.
ADVERSARIAL_REQUEST_IDS = [
    "82197868-1133-4c1e-9a0b-0f3e1d2c4b5a",
    "01012345-6789-4012-8345-678901234567",
    "00000000-0000-4000-8000-821012345678",
    "82101234-5678-4123-8123-010123456789",
    "abcdef12-abcd-4bcd-abcd-821012345678",
    "0000000a-000a-400a-800a-821012345678",
]
ADVERSARIAL_TRACE_IDS = ["1-6745e0c1-01012345678901234567abcd", "1-01012345-821012345678000000000000"]


def _random_request_ids(count: int) -> list[str]:
    rng = random.Random(20261125)  # seeded: a failure names an id that fails again
    return [str(uuid.UUID(int=rng.getrandbits(128), version=4)) for _ in range(count)]


def _random_trace_ids(count: int) -> list[str]:
    rng = random.Random(11)
    return [f"1-{rng.getrandbits(32):08x}-{rng.getrandbits(96):024x}" for _ in range(count)]


def _lambda_lines(request_id: str) -> list[str]:
    """The lines the Lambda runtime writes around every invocation, and a Powertools line with the same id."""
    return [
        f"START RequestId: {request_id} Version: $LATEST",
        f"END RequestId: {request_id}",
        f"REPORT RequestId: {request_id}\tDuration: 1012.34 ms\tBilled Duration: 1013 ms\tMemory Size: 512 MB\t"
        "Max Memory Used: 81 MB\tInit Duration: 821.01 ms",
        json.dumps(
            {
                "level": "INFO",
                "message": "send accepted",
                "function_request_id": request_id,
                "correlation_id": request_id,
            }
        ),
    ]


def test_lambda_request_ids_are_not_phone_numbers() -> None:
    ids = [*ADVERSARIAL_REQUEST_IDS, *_random_request_ids(3_000)]
    flagged = [line for request_id in ids for line in _lambda_lines(request_id) if leak_kinds(line)]
    assert flagged == []


def test_xray_trace_ids_are_not_phone_numbers() -> None:
    ids = [*ADVERSARIAL_TRACE_IDS, *_random_trace_ids(3_000)]
    lines = [
        line
        for trace_id in ids
        for line in (
            json.dumps({"message": "batch settled", "xray_trace_id": trace_id}),
            f"XRAY TraceId: {trace_id}\tSegmentId: {trace_id[-16:]}\tSampled: true",
            f"Root={trace_id};Parent={trace_id[-16:]};Sampled=1",
        )
    ]
    assert [line for line in lines if leak_kinds(line)] == []


KOREAN_MOBILES = ["010-1234-5678", "01012345678", "+82 10-1234-5678", "+821012345678", "011-234-5678"]


@pytest.mark.parametrize("phone", KOREAN_MOBILES)
def test_korean_mobile_numbers_are_found_in_every_accepted_form(phone: str) -> None:
    request_id = ADVERSARIAL_REQUEST_IDS[0]
    lines = [
        phone,
        f"sending to {phone}",
        json.dumps({"message": "recipient", "phone": phone, "function_request_id": request_id}),
        f"{request_id} {phone}",  # beside an id, not inside one
        f"START RequestId: {request_id} Version: $LATEST {phone}",
    ]
    assert [leak_kinds(line) for line in lines] == [["phone"]] * len(lines)


@pytest.mark.parametrize(
    "line",
    ['{"phone": "02-1234-5678"}', '{"count": 1012345678}', "Max Memory Used: 1012 MB", '{"phone": "010-1234"}'],
)
def test_numbers_that_are_not_korean_mobiles_are_clean(line: str) -> None:
    assert leak_kinds(line) == []
