"""Domain rules that need no AWS: phone numbers, message text, keys, expiry dates."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from shared.domain.accounts.auth import Principal, authenticate, bearer_token, hash_api_key
from shared.domain.clock import gifticon_expiry
from shared.domain.recipients import normalize_korean_mobile
from shared.models.api import GiftSendRequest


@pytest.mark.parametrize("given", ["010-1234-5678", "01012345678", "+82 10-1234-5678", "+821012345678"])
def test_accepted_phone_formats_become_e164(given: str) -> None:
    assert normalize_korean_mobile(given) == "+821012345678"


@pytest.mark.parametrize("given", ["", "123", "02-123-4567", "+1 415 555 0100", "010-12", "phone", "0" * 40])
def test_invalid_or_non_mobile_numbers_are_rejected(given: str) -> None:
    assert normalize_korean_mobile(given) is None


def _request(**change: object) -> dict:
    return {
        "promotion_id": "p",
        "gift_id": "g",
        "title": "t",
        "content": "c",
        "recipients": [{"phone": "01012345678"}],
        **change,
    }


@pytest.mark.parametrize("title", ["가나다라마바사아자차", "0123456789"])
def test_ten_character_titles_including_korean_are_allowed(title: str) -> None:
    assert GiftSendRequest.model_validate(_request(title=title)).title == title


@pytest.mark.parametrize("text", ["👍", "win ✨", "flag 🇰🇷", "a\u0007b"])
def test_emoji_and_control_characters_are_refused(text: str) -> None:
    with pytest.raises(ValidationError):
        GiftSendRequest.model_validate(_request(content=text))


def test_send_at_needs_an_offset() -> None:
    with pytest.raises(ValidationError):
        GiftSendRequest.model_validate(_request(send_at="2026-12-01T10:00:00"))


def test_gifticon_is_valid_thirty_days_including_the_seoul_issue_day() -> None:
    # 2026-11-30 20:00 UTC is already 2026-12-01 in Seoul.
    assert gifticon_expiry(datetime(2026, 11, 30, 20, 0, tzinfo=UTC)) == date(2026, 12, 30)
    assert gifticon_expiry(datetime(2026, 11, 30, 10, 0, tzinfo=UTC)) == date(2026, 12, 29)


class _Keys:
    def __init__(self, known: dict[str, str]) -> None:
        self.known = {hash_api_key(k): v for k, v in known.items()}

    def account_id_for_key_hash(self, api_key_hash: str) -> str | None:
        return self.known.get(api_key_hash)

    def get_account(self, account_id: str) -> object | None:
        return object() if account_id in self.known.values() else None


class _UserTokens:
    def account_id_for_token(self, token: str) -> str | None:
        return {"h.good.s": "acc_1", "h.gone.s": "acc_gone"}.get(token)


def test_user_tokens_act_as_their_account() -> None:
    keys, tokens = _Keys({"wn_live_abc": "acc_1"}), _UserTokens()
    assert authenticate("h.good.s", "admin-secret", keys, tokens) == Principal(role="account", account_id="acc_1")
    assert authenticate("h.gone.s", "admin-secret", keys, tokens) is None  # its account no longer exists
    assert authenticate("h.bad.s", "admin-secret", keys, tokens) is None
    assert authenticate("h.good.s", "admin-secret", keys) is None  # no user pool configured
    assert authenticate("wn_live_abc", "admin-secret", keys, tokens) == Principal(role="account", account_id="acc_1")


def test_authentication() -> None:
    keys = _Keys({"wn_live_abc": "acc_1"})
    assert authenticate("admin-secret", "admin-secret", keys) == Principal(role="admin")
    assert authenticate("wn_live_abc", "admin-secret", keys) == Principal(role="account", account_id="acc_1")
    assert authenticate("wn_live_zzz", "admin-secret", keys) is None
    assert authenticate(None, "admin-secret", keys) is None
    assert authenticate("", "", keys) is None
    assert bearer_token("Bearer  abc ") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token("Bearer") is None
