"""Notification message rules (shared.domain.notifications.messages): pure functions, no AWS."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from shared.domain.notifications.messages import (
    MAX_DETAILS,
    MessageProblem,
    RenderedMessage,
    check_messages,
    check_notification_request,
    euc_kr_length,
    missing_address_problems,
    normalize_email,
    recipient_address,
    render,
    render_message,
)
from shared.errors import InvalidInput

HANGUL = "가"  # 2 bytes in EUC-KR


@dataclass(frozen=True)
class Recipient:
    phone: str | None = None
    email: str | None = None
    name: str | None = None


def problems_of(channel: str, title: str | None, content: str, names: list[str | None] | None = None) -> list:
    check = check_messages(channel, title, content, names if names is not None else [None])  # type: ignore[arg-type]
    return [(p.field, p.type, p.recipient_index) for p in check.problems]


# -- rendering ----------------------------------------------------------------------------------------------------


def test_render_replaces_every_name_placeholder() -> None:
    assert render("{name}님, {name}님 축하합니다", "김철수") == "김철수님, 김철수님 축하합니다"


@pytest.mark.parametrize("name", [None, ""])
def test_render_without_a_name_leaves_nothing(name: str | None) -> None:
    assert render("{name}님 당첨!", name) == "님 당첨!"


def test_render_is_not_a_template_engine() -> None:
    assert render("{Name} {name } {{name}} {0} %s", "A") == "{Name} {name } {A} {0} %s"
    assert render("안녕 {name}", "{name}") == "안녕 {name}"  # a name is not rendered again


# -- EUC-KR ---------------------------------------------------------------------------------------------------------


def test_euc_kr_length_uses_the_codec() -> None:
    assert euc_kr_length("abc") == 3
    assert euc_kr_length("가나다") == 6
    assert euc_kr_length("①€♥") == 6  # KS X 1001 symbols
    assert euc_kr_length("똠") == 8  # outside KS X 1001: Python's codec writes an 8-byte make-up sequence
    assert euc_kr_length("") == 0


@pytest.mark.parametrize("text", ["🎉", "당첨🎁", "𠀀", "ｱ", "\ud800"])
def test_euc_kr_cannot_encode_emoji_and_extension_characters(text: str) -> None:
    assert euc_kr_length(text) is None


# -- sms ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "fits"),
    [
        (HANGUL * 45, True),
        (HANGUL * 46, False),
        ("a" * 90, True),
        ("a" * 91, False),
        (HANGUL * 44 + "ab", True),
        (HANGUL * 44 + "abc", False),
    ],
)
def test_sms_content_is_at_most_90_bytes(content: str, fits: bool) -> None:
    assert problems_of("sms", None, content) == ([] if fits else [("content", "too_long", None)])


def test_sms_has_no_title() -> None:
    assert problems_of("sms", "제목", "본문") == [("title", "not_allowed", None)]
    assert problems_of("sms", "", "본문") == []  # an empty title is no title


def test_sms_title_that_renders_empty_is_no_title() -> None:
    assert problems_of("sms", "{name}", "본문", [None, "", "홍길동"]) == [("title", "not_allowed", 2)]


@pytest.mark.parametrize("channel", ["sms", "lms", "auto"])
@pytest.mark.parametrize("content", ["당첨 🎉", "𠀀 축하", "ｱｲｳ"])
def test_text_euc_kr_cannot_encode_is_rejected(channel: str, content: str) -> None:
    assert problems_of(channel, None, content) == [("content", "not_euc_kr", None)]


def test_unencodable_lms_title_is_rejected() -> None:
    assert problems_of("lms", "축하 🎉", "본문") == [("title", "not_euc_kr", None)]


def test_emoji_in_a_name_rejects_that_recipient() -> None:
    assert problems_of("sms", None, "{name}님 당첨", ["김", "🎉", "박"]) == [("content", "not_euc_kr", 1)]


# -- lms ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "fits"), [(HANGUL * 1000, True), (HANGUL * 1001, False), ("a" * 2000, True), ("a" * 2001, False)]
)
def test_lms_content_is_at_most_2000_bytes(content: str, fits: bool) -> None:
    assert problems_of("lms", None, content) == ([] if fits else [("content", "too_long", None)])


@pytest.mark.parametrize(
    ("title", "fits"), [(HANGUL * 20, True), (HANGUL * 21, False), ("t" * 40, True), ("t" * 41, False)]
)
def test_lms_title_is_at_most_40_bytes(title: str, fits: bool) -> None:
    assert problems_of("lms", title, "본문") == ([] if fits else [("title", "too_long", None)])


def test_lms_title_is_optional() -> None:
    assert render_message("lms", None, "짧아도 lms", None) == RenderedMessage("lms", None, "짧아도 lms")


# -- auto -----------------------------------------------------------------------------------------------------------


def test_auto_sends_short_messages_as_sms_and_long_ones_as_lms() -> None:
    assert render_message("auto", None, HANGUL * 45, None).channel == "sms"
    assert render_message("auto", None, HANGUL * 46, None).channel == "lms"
    assert render_message("auto", None, "a" * 91, None).channel == "lms"
    assert problems_of("auto", None, HANGUL * 1001) == [("content", "too_long", None)]


def test_auto_with_a_title_is_always_lms() -> None:
    message = render_message("auto", "당첨 안내", "짧은 본문", None)
    assert message == RenderedMessage("lms", "당첨 안내", "짧은 본문")
    assert problems_of("auto", HANGUL * 21, "짧은 본문") == [("title", "too_long", None)]


def test_a_name_can_change_the_choice() -> None:
    content = HANGUL * 42 + "{name}"  # 84 bytes before the name
    assert render_message("auto", None, content, "홍길동").channel == "sms"  # 90 bytes
    assert render_message("auto", None, content, "남궁길동").channel == "lms"  # 92 bytes
    check = check_messages("auto", None, content, ["홍길동", "남궁길동", None, "홍길동"])
    assert check.ok
    assert check.channels == ("sms", "lms", "sms", "sms")
    assert (check.count("sms"), check.count("lms")) == (3, 1)


def test_a_title_placeholder_decides_per_recipient() -> None:
    check = check_messages("auto", "{name}", "축하합니다", ["", "홍길동"])
    assert check.channels == ("sms", "lms")
    assert render_message("auto", "{name}", "축하합니다", None) == RenderedMessage("sms", None, "축하합니다")


# -- a whole send ---------------------------------------------------------------------------------------------------


def test_a_name_that_pushes_the_message_over_the_limit_names_the_recipient() -> None:
    content = HANGUL * 43 + "{name}"  # 86 bytes before the name
    check = check_messages("sms", None, content, ["이순", "이순신", "김", "이순신"])
    assert [(p.field, p.type, p.recipient_index) for p in check.problems] == [
        ("content", "too_long", 1),
        ("content", "too_long", 3),
    ]
    assert check.channels == ()
    with pytest.raises(InvalidInput) as raised:
        check.raise_if_invalid()
    assert "2 recipients" in raised.value.message
    assert raised.value.details[0] == {
        "loc": ["body", "recipients", 1, "name"],
        "msg": "sms content is 92 bytes in EUC-KR; at most 90",
        "type": "too_long",
        "recipient_index": 1,
        "field": "content",
    }


def test_a_problem_in_the_text_itself_is_reported_once() -> None:
    check = check_messages("sms", None, "{name} " + "a" * 95, [f"n{i}" for i in range(1000)])
    assert [(p.field, p.type, p.recipient_index) for p in check.problems] == [("content", "too_long", None)]
    assert check.problems[0].detail() == {
        "loc": ["body", "content"],
        "msg": "sms content is 96 bytes in EUC-KR; at most 90",
        "type": "too_long",
    }


def test_details_are_capped_but_counted() -> None:
    names = ["가" * 10] * 300
    with pytest.raises(InvalidInput) as raised:
        check_messages("sms", None, "가" * 40 + "{name}", names).raise_if_invalid()
    assert len(raised.value.details) == MAX_DETAILS
    assert raised.value.message.startswith("300 recipients break a rule")


def test_content_that_renders_empty_is_rejected_per_recipient() -> None:
    assert problems_of("sms", None, "{name}", ["김", None]) == [("content", "empty", 1)]
    assert problems_of("email", "제목", "{name}", ["kim", ""]) == [("content", "empty", 1)]
    assert problems_of("lms", None, "") == [("content", "empty", None)]


def test_rendering_with_an_empty_name_list_checks_the_text_only() -> None:
    assert check_messages("sms", None, "본문", []).ok
    assert not check_messages("sms", None, "🎉", []).ok


def test_ten_thousand_recipients_are_checked_quickly() -> None:
    names = [f"당첨자{i}" for i in range(10_000)]
    started = time.monotonic()
    check = check_messages("email", "{name}님 당첨", "가" * 99_000 + "{name}", names)
    sms_check = check_messages("auto", None, "가" * 41 + "{name}", names)  # 82 bytes + the name
    assert time.monotonic() - started < 2
    assert check.ok and sms_check.ok
    assert sms_check.count("sms") == 100 and sms_check.count("lms") == 9_900  # 당첨자0..당첨자99 fit in 90 bytes


def test_check_matches_rendering_one_by_one() -> None:
    """The fast path (measure once, add up) agrees with rendering each message."""
    content = "{name}님 " + HANGUL * 38 + "{name}"
    names: list[str | None] = [None, "", "a", "홍", "홍길", "abc", "똠", "🎉", "x\ty", "a\x07", "긴이름" * 3]
    check = check_messages("auto", "{name}", content, names)
    problem_indexes = {p.recipient_index for p in check.problems}
    for index, name in enumerate(names):
        try:
            render_message("auto", "{name}", content, name)
        except InvalidInput:
            assert index in problem_indexes
        else:
            assert index not in problem_indexes


# -- control characters ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["sms", "lms", "email"])
def test_content_may_have_line_breaks_but_no_other_control_characters(channel: str) -> None:
    title = "제목" if channel == "email" else None
    assert problems_of(channel, title, "첫째 줄\r\n둘째\t줄") == []
    assert problems_of(channel, title, "벨\x07") == [("content", "control_character", None)]


@pytest.mark.parametrize("channel", ["lms", "email"])
def test_titles_are_one_line(channel: str) -> None:
    assert problems_of(channel, "두\n줄", "본문") == [("title", "control_character", None)]


# -- email ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("title", "content", "expected"),
    [
        ("t" * 200, "c" * 100_000, []),
        ("t" * 201, "c", [("title", "too_long", None)]),
        ("t", "c" * 100_001, [("content", "too_long", None)]),
        (None, "c", [("title", "required", None)]),
        ("", "c", [("title", "required", None)]),
        ("t", "", [("content", "empty", None)]),
        ("🎉 당첨 " + "가" * 150, "𠀀 any Unicode 🎁", []),  # no EUC-KR rule for email
    ],
)
def test_email_limits_are_in_characters(title: str | None, content: str, expected: list) -> None:
    assert problems_of("email", title, content) == expected


def test_email_limits_apply_to_the_rendered_subject() -> None:
    assert problems_of("email", "t" * 196 + "{name}", "본문", ["abcd", "abcde"]) == [("title", "too_long", 1)]
    assert problems_of("email", "{name}", "본문", ["kim", None]) == [("title", "required", 1)]


def test_lone_surrogates_are_invalid_everywhere() -> None:
    assert problems_of("email", "제목", "bad \ud800") == [("content", "invalid_unicode", None)]
    assert problems_of("sms", None, "bad \udfff") == [("content", "invalid_unicode", None)]


def test_render_message_raises_invalid_input() -> None:
    with pytest.raises(InvalidInput) as raised:
        render_message("sms", None, "{name}" + HANGUL * 44, "홍길동")
    assert raised.value.details[0]["loc"] == ["body", "content"]
    assert render_message("email", "{name}님", "안녕 {name}", "Kim") == RenderedMessage("email", "Kim님", "안녕 Kim")


# -- addresses ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["sms", "lms", "auto"])
@pytest.mark.parametrize("phone", ["010-1234-5678", "01012345678", "+82 10-1234-5678"])
def test_phone_channels_send_to_the_e164_number(channel: str, phone: str) -> None:
    address = recipient_address(channel, phone, "ignored@")  # type: ignore[arg-type]
    assert address.valid
    assert address.destination == address.phone == "+821012345678"
    assert address.email == "ignored@"  # not the channel's field: kept as given, not validated


@pytest.mark.parametrize("phone", ["02-123-4567", "010-123", "+1 415 555 0100", "not a phone", None])
def test_invalid_or_missing_phones_are_invalid_recipients(phone: str | None) -> None:
    address = recipient_address("sms", phone, "kim@example.com")
    assert not address.valid and address.destination is None
    assert address.phone == phone


@pytest.mark.parametrize("last_four", ["0000", "8888", "9999"])
def test_sandbox_numbers_are_valid_mobiles(last_four: str) -> None:
    assert recipient_address("sms", f"010-1234-{last_four}", None).destination == f"+82101234{last_four}"


@pytest.mark.parametrize(
    ("email", "normalized"),
    [
        ("kim@example.com", "kim@example.com"),
        ("Kim.Lee@Example.CO.KR", "Kim.Lee@example.co.kr"),
        (" kim@fail.example ", "kim@fail.example"),
        ("a@invalid.example", "a@invalid.example"),
    ],
)
def test_email_channel_normalizes_the_address(email: str, normalized: str) -> None:
    address = recipient_address("email", "010-1234-5678", email)
    assert address.destination == address.email == normalized
    assert address.phone == "+821012345678"  # not validated for email, but shown in E.164 (v1.1)
    assert normalize_email(email) == normalized


@pytest.mark.parametrize(
    "email",
    [
        "kim",
        "kim@",
        "@example.com",
        "a..b@example.com",
        "kim@localhost",
        "홍길동@example.com",
        "kim@exa mple.com",
        None,
    ],
)
def test_invalid_or_missing_emails_are_invalid_recipients(email: str | None) -> None:
    address = recipient_address("email", "010-1234-5678", email)
    assert address.destination is None and address.email == email


def test_a_recipient_missing_its_channels_field_is_a_422() -> None:
    recipients = [Recipient(phone="010-1234-5678"), Recipient(email="a@example.com"), Recipient(phone="  ")]
    assert missing_address_problems("sms", recipients) == [
        MessageProblem("phone", "missing", "sms needs the recipient's phone", 1),
        MessageProblem("phone", "missing", "sms needs the recipient's phone", 2),
    ]
    assert [p.recipient_index for p in missing_address_problems("email", recipients)] == [0, 2]
    with pytest.raises(InvalidInput) as raised:
        check_notification_request("auto", None, "본문", recipients)
    assert raised.value.details[0]["loc"] == ["body", "recipients", 1, "phone"]


def test_a_present_but_invalid_address_is_not_a_422() -> None:
    recipients = [Recipient(phone="010-1234-5678", name="김"), Recipient(phone="02-123-4567", name="이")]
    check = check_notification_request("auto", None, "{name}님 축하합니다", recipients)
    assert check.channels == ("sms", "sms")
    assert [recipient_address("auto", r.phone, r.email).valid for r in recipients] == [True, False]
