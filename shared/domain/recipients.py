"""Recipient phone numbers, on a maintained library (phonenumbers) rather than hand-made tables."""

from __future__ import annotations

import phonenumbers
from phonenumbers import PhoneNumberType

_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


def normalize_korean_mobile(raw: str) -> str | None:
    """E.164 for a valid Korean mobile number, else None (an invalid recipient)."""
    try:
        number = phonenumbers.parse(raw, "KR")
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.region_code_for_number(number) != "KR" or not phonenumbers.is_valid_number(number):
        return None
    if phonenumbers.number_type(number) not in _MOBILE_TYPES:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def e164_or_given(raw: str) -> str:
    """How the API shows a phone: E.164 when it is a valid Korean mobile number, else as given (an invalid one)."""
    return normalize_korean_mobile(raw) or raw
