"""Notification message rules: ``{name}`` rendering, EUC-KR byte limits, the sms/lms choice of ``auto``, and the
recipient address each channel needs. Pure functions; no AWS.

The contract fixes the limits (sms: content <= 90 EUC-KR bytes, no title; lms: content <= 2,000 bytes, title <= 40
bytes; email: subject 1-200 chars, content 1-100,000 chars; text EUC-KR cannot encode is a 422). Where it is silent,
these are the rules, decided here once:

- Rendering: ``{name}`` (exactly that, case-sensitive) is replaced by the recipient's name, or by nothing when the
  recipient has no name. Nothing else is templating: other braces are literal text, and a name that itself
  contains ``{name}`` is not rendered again.
- Every limit applies to the *rendered* message of each recipient, since names change the length.
- EUC-KR length is Python's ``euc-kr`` codec, never a hand-made table. Note that this codec spells the Hangul
  syllables outside KS X 1001 (e.g. ``똠``) as an 8-byte make-up sequence, so they count 8 bytes; emoji, most CJK
  extension characters and half-width katakana cannot be encoded at all and make the request a 422.
- Titles: an absent title, an empty one and one that renders empty are all "no title". For lms the title is
  optional (the contract gives it only an upper bound). For sms a (non-empty) title is a 422: sms has no title.
- ``auto``: a rendered message goes as sms when it has no title and its content fits sms (<= 90 bytes), otherwise
  as lms under the lms limits. A title therefore always makes the message an lms; with ``{name}`` in the content,
  one send can mix sms and lms recipients.
- Content must not render empty on any channel (the contract's email minimum of 1, applied to sms and lms too).
- Control characters: content may contain line breaks and tabs, but no other control character; titles (a
  one-line subject, an email header) may contain none at all. Lone surrogates (possible through JSON ``\\ud800``
  escapes) are invalid everywhere. Email text may otherwise be any Unicode (emoji included).
- Addresses: sms, lms and auto send to ``phone`` (a valid Korean mobile number, normalized to E.164 by
  shared.domain.recipients.normalize_korean_mobile); email sends to ``email`` (checked with email-validator, no
  DNS lookup, ASCII local part because SES cannot send to SMTPUTF8 mailboxes; the normalized form is kept). Only
  the field the channel uses is validated; the other is kept as given, but a valid phone is still shown in E.164.
- A recipient that *lacks* the field its channel needs (absent or blank) makes ``POST /notification-sends`` a 422
  naming the recipient (``missing_address_problems``): the contract lists "sms/lms/auto need phone; email needs
  email" among the request rules, and such a request is a caller mistake rather than a bad number. A field that is
  present but invalid is an INVALID_RECIPIENT recorded at once (``recipient_address`` returns no destination).
  Where there is no request to reject - winners notified by a promotion's auto-notification - skip the 422 check:
  ``recipient_address`` treats a missing field as an invalid recipient as well.

Checking a whole send (up to 10,000 recipients) stays fast because the facts that matter (character count, EUC-KR
bytes, control characters) are additive over ``{name}`` substitution: each text is measured once, each distinct
name once, and each recipient's rendered message is judged by arithmetic, without building the rendered strings.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from shared.domain.recipients import e164_or_given, normalize_korean_mobile
from shared.errors import InvalidInput
from shared.models.common import Channel, RequestedChannel

MessageField = Literal["title", "content"]

NAME_PLACEHOLDER = "{name}"
SMS_CONTENT_MAX_BYTES = 90
LMS_CONTENT_MAX_BYTES = 2_000
LMS_TITLE_MAX_BYTES = 40
EMAIL_TITLE_MAX_CHARS = 200
EMAIL_CONTENT_MAX_CHARS = 100_000
MAX_DETAILS = 50
"""At most this many details in one 422; its message still counts them all."""

PHONE_CHANNELS: frozenset[str] = frozenset({"sms", "lms", "auto"})
_CONTENT_WHITESPACE_CONTROLS = frozenset("\n\r\t")


def render(text: str, name: str | None) -> str:
    """``{name}`` replaced by the recipient's name (empty when there is none); nothing else changes."""
    return text.replace(NAME_PLACEHOLDER, name or "")


def euc_kr_length(text: str) -> int | None:
    """Bytes of ``text`` in EUC-KR (Python's codec), or None when EUC-KR cannot encode it."""
    try:
        return len(text.encode("euc-kr"))
    except UnicodeEncodeError:
        return None


def address_field(channel: RequestedChannel | Channel) -> Literal["phone", "email"]:
    """The recipient field a channel sends to."""
    return "email" if channel == "email" else "phone"


# -- results ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedMessage:
    """One recipient's message as it will be delivered. ``channel`` is never ``auto``."""

    channel: Channel
    title: str | None
    content: str


@dataclass(frozen=True)
class MessageProblem:
    """Why a send is a 422. ``recipient_index`` is None when the problem is in the request's own text (every
    recipient would have it); otherwise it names the recipient whose rendered message or address breaks a rule."""

    field: Literal["title", "content", "phone", "email"]
    type: str
    message: str
    recipient_index: int | None = None

    def detail(self) -> dict[str, Any]:
        """A validation-error detail in the API's shape (``loc``/``msg``/``type``, as for schema errors)."""
        if self.recipient_index is None:
            return {"loc": ["body", self.field], "msg": self.message, "type": self.type}
        # A rendered message breaks a limit because of this recipient's name; an address problem is its own field.
        where = self.field if self.field in ("phone", "email") else "name"
        return {
            "loc": ["body", "recipients", self.recipient_index, where],
            "msg": self.message,
            "type": self.type,
            "recipient_index": self.recipient_index,
            "field": self.field,
        }


@dataclass(frozen=True)
class MessageCheck:
    """The verdict on a whole send's messages: its problems, or each recipient's delivery channel."""

    problems: tuple[MessageProblem, ...]
    channels: tuple[Channel, ...]  # per recipient, in request order; empty when there are problems

    @property
    def ok(self) -> bool:
        return not self.problems

    def count(self, channel: Channel) -> int:
        return sum(1 for c in self.channels if c == channel)

    def raise_if_invalid(self) -> None:
        raise_problems(self.problems)


@dataclass(frozen=True)
class RecipientAddress:
    """A recipient's address for one channel. ``destination`` (E.164 phone or normalized email) is None when the
    recipient is invalid for the channel: it is recorded FAILED / INVALID_RECIPIENT at once and uses no count."""

    phone: str | None  # E.164 when valid (whatever the channel), else as given
    email: str | None  # normalized when it was validated and valid, else as given
    destination: str | None

    @property
    def valid(self) -> bool:
        return self.destination is not None


class RecipientInput(Protocol):
    """What a request's recipient offers (the API model satisfies it)."""

    @property
    def phone(self) -> str | None: ...

    @property
    def email(self) -> str | None: ...

    @property
    def name(self) -> str | None: ...


# -- one message ------------------------------------------------------------------------------------------------


def render_message(channel: RequestedChannel, title: str | None, content: str, name: str | None) -> RenderedMessage:
    """One recipient's message, with ``auto`` resolved. Raises InvalidInput when it breaks a rule."""
    rendered_title = render(title, name) if title else ""
    rendered_content = render(content, name)
    resolved, problems = _judge(channel, _facts(rendered_title), _facts(rendered_content))
    if resolved is None:
        raise _invalid([MessageProblem(field, kind, text) for field, kind, text in problems])
    return RenderedMessage(channel=resolved, title=rendered_title or None, content=rendered_content)


# -- a whole send -----------------------------------------------------------------------------------------------


def check_messages(
    channel: RequestedChannel, title: str | None, content: str, names: Sequence[str | None]
) -> MessageCheck:
    """Judge every recipient's rendered message up front (``names`` in recipient order).

    A problem in the request's own text (one every recipient shares, e.g. an emoji or a too-long fixed part) is
    reported once without a recipient index; otherwise each recipient whose name makes the message break a rule
    is reported by index. Each distinct name is judged once."""
    title_template, content_template = _Template.of(title or ""), _Template.of(content)

    # Names only add characters, bytes and control characters, so whatever the text breaks on its own, every
    # rendered message breaks too - except being empty, which a name can cure.
    curable = {"title": title_template.placeholders > 0, "content": content_template.placeholders > 0}
    _, own = _judge(channel, title_template.base, content_template.base)
    own = [(f, kind, text) for f, kind, text in own if not (kind in ("empty", "required") and curable[f])]
    if own:
        return MessageCheck(tuple(MessageProblem(f, kind, text) for f, kind, text in own), ())

    verdicts: dict[str, tuple[Channel | None, list[tuple[MessageField, str, str]]]] = {}
    problems: list[MessageProblem] = []
    channels: list[Channel] = []
    for index, name in enumerate(names):
        key = name or ""
        verdict = verdicts.get(key)
        if verdict is None:
            name_facts = _facts(key)
            verdict = verdicts[key] = _judge(
                channel, title_template.with_name(name_facts), content_template.with_name(name_facts)
            )
        resolved, found = verdict
        problems.extend(MessageProblem(f, kind, text, index) for f, kind, text in found)
        if resolved is not None:
            channels.append(resolved)
    return MessageCheck(tuple(problems), () if problems else tuple(channels))


def missing_address_problems(channel: RequestedChannel, recipients: Sequence[RecipientInput]) -> list[MessageProblem]:
    """Recipients lacking (absent or blank) the field their channel sends to: a 422 for a notification send."""
    needed = address_field(channel)
    problems = []
    for index, recipient in enumerate(recipients):
        value = recipient.email if needed == "email" else recipient.phone
        if value is None or not value.strip():
            problems.append(MessageProblem(needed, "missing", f"{channel} needs the recipient's {needed}", index))
    return problems


def check_notification_request(
    channel: RequestedChannel, title: str | None, content: str, recipients: Sequence[RecipientInput]
) -> MessageCheck:
    """The 422 rules of ``POST /notification-sends`` in one call: every recipient has the field its channel needs
    and every rendered message keeps the limits. Raises InvalidInput naming the offending recipients' indexes;
    returns each recipient's delivery channel."""
    raise_problems(missing_address_problems(channel, recipients))
    check = check_messages(channel, title, content, [r.name for r in recipients])
    check.raise_if_invalid()
    return check


def raise_problems(problems: Sequence[MessageProblem]) -> None:
    """InvalidInput (422 VALIDATION_ERROR) with up to MAX_DETAILS details, when there is any problem."""
    if problems:
        raise _invalid(problems)


def _invalid(problems: Sequence[MessageProblem]) -> InvalidInput:
    first = problems[0]
    recipients = {p.recipient_index for p in problems if p.recipient_index is not None}
    if first.recipient_index is None:
        message = first.message
    elif len(recipients) == 1:
        message = f"recipient {first.recipient_index}: {first.message}"
    else:
        message = (
            f"{len(recipients)} recipients break a rule (first, recipient {first.recipient_index}: {first.message})"
        )
    return InvalidInput(message, [p.detail() for p in problems[:MAX_DETAILS]])


# -- addresses --------------------------------------------------------------------------------------------------


def normalize_email(raw: str) -> str | None:
    """The normalized address when it is a deliverable-looking email address (syntax only, no DNS), else None."""
    from email_validator import EmailNotValidError, validate_email  # about 30 ms to import: only email recipients

    try:
        return validate_email(raw.strip(), check_deliverability=False, allow_smtputf8=False).normalized
    except EmailNotValidError:
        return None


def recipient_address(channel: RequestedChannel | Channel, phone: str | None, email: str | None) -> RecipientAddress:
    """Validate the field the channel sends to. A missing or invalid one leaves no destination (INVALID_RECIPIENT)."""
    if address_field(channel) == "email":
        normalized = normalize_email(email) if email else None
        return RecipientAddress(
            phone=e164_or_given(phone) if phone else None, email=normalized or email, destination=normalized
        )
    e164 = normalize_korean_mobile(phone) if phone else None
    return RecipientAddress(phone=e164 or phone, email=email, destination=e164)


# -- the rules, on measured facts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Facts:
    """What the rules need to know about a text. Every field is additive under concatenation."""

    chars: int
    euc_kr_bytes: int | None  # None: EUC-KR cannot encode it
    controls: bool  # a control character other than a line break or tab
    breaks: bool  # a line break or tab (fine in content, not in a title)
    surrogates: bool

    def __add__(self, other: _Facts) -> _Facts:
        return _Facts(
            chars=self.chars + other.chars,
            euc_kr_bytes=None
            if self.euc_kr_bytes is None or other.euc_kr_bytes is None
            else self.euc_kr_bytes + other.euc_kr_bytes,
            controls=self.controls or other.controls,
            breaks=self.breaks or other.breaks,
            surrogates=self.surrogates or other.surrogates,
        )

    def times(self, count: int) -> _Facts:
        if count == 0:
            return _EMPTY
        return _Facts(
            chars=self.chars * count,
            euc_kr_bytes=None if self.euc_kr_bytes is None else self.euc_kr_bytes * count,
            controls=self.controls,
            breaks=self.breaks,
            surrogates=self.surrogates,
        )


_EMPTY = _Facts(chars=0, euc_kr_bytes=0, controls=False, breaks=False, surrogates=False)


def _facts(text: str) -> _Facts:
    if not text:
        return _EMPTY
    # Only the rare unusual characters need a closer look, so scan the text with C-speed checks first.
    surrogates = False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        surrogates = True
    controls = breaks = False
    if not text.isprintable():  # any Cc/Cf/Z*-but-space/... character: look at each one
        for ch in set(text):
            if ch in _CONTENT_WHITESPACE_CONTROLS:
                breaks = True
            elif unicodedata.category(ch) == "Cc":
                controls = True
    return _Facts(
        chars=len(text),
        euc_kr_bytes=None if surrogates else euc_kr_length(text),
        controls=controls,
        breaks=breaks,
        surrogates=surrogates,
    )


@dataclass(frozen=True)
class _Template:
    """A title or content measured once: its text without the placeholders, and how many placeholders it has."""

    base: _Facts
    placeholders: int

    @classmethod
    def of(cls, text: str) -> _Template:
        parts = text.split(NAME_PLACEHOLDER)
        return cls(base=_facts("".join(parts)), placeholders=len(parts) - 1)

    def with_name(self, name: _Facts) -> _Facts:
        return self.base + name.times(self.placeholders)


def _judge(
    channel: RequestedChannel, title: _Facts, content: _Facts
) -> tuple[Channel | None, list[tuple[MessageField, str, str]]]:
    """The delivery channel of a rendered message with these facts, or the rules it breaks. An empty title is no
    title."""
    problems: list[tuple[MessageField, str, str]] = []
    has_title = title.chars > 0

    if content.chars == 0:
        problems.append(("content", "empty", "content must not be empty"))
    if content.surrogates:
        problems.append(("content", "invalid_unicode", "content is not valid Unicode text"))
    if content.controls:
        problems.append(("content", "control_character", "content may not contain control characters"))
    if has_title and title.surrogates:
        problems.append(("title", "invalid_unicode", "title is not valid Unicode text"))
    if has_title and (title.controls or title.breaks):
        problems.append(("title", "control_character", "title must be one line without control characters"))

    if channel == "email":
        if not has_title:
            problems.append(("title", "required", "email needs a title (the subject)"))
        elif title.chars > EMAIL_TITLE_MAX_CHARS:
            problems.append(
                ("title", "too_long", f"email title is {title.chars} characters; at most {EMAIL_TITLE_MAX_CHARS}")
            )
        if content.chars > EMAIL_CONTENT_MAX_CHARS:
            problems.append(
                (
                    "content",
                    "too_long",
                    f"email content is {content.chars} characters; at most {EMAIL_CONTENT_MAX_CHARS}",
                )
            )
        return (None if problems else "email"), problems

    if content.euc_kr_bytes is None and not content.surrogates:
        problems.append(("content", "not_euc_kr", "content has characters that cannot be sent by SMS/LMS (EUC-KR)"))
    if has_title and title.euc_kr_bytes is None and not title.surrogates:
        problems.append(("title", "not_euc_kr", "title has characters that cannot be sent by LMS (EUC-KR)"))

    resolved: Channel = "lms"
    if channel == "sms" or (
        channel == "auto"
        and not has_title
        and content.euc_kr_bytes is not None
        and content.euc_kr_bytes <= SMS_CONTENT_MAX_BYTES
    ):
        resolved = "sms"
    if resolved == "sms":
        if has_title:
            problems.append(("title", "not_allowed", "sms has no title"))
        if content.euc_kr_bytes is not None and content.euc_kr_bytes > SMS_CONTENT_MAX_BYTES:
            problems.append(
                (
                    "content",
                    "too_long",
                    f"sms content is {content.euc_kr_bytes} bytes in EUC-KR; at most {SMS_CONTENT_MAX_BYTES}",
                )
            )
    else:
        if content.euc_kr_bytes is not None and content.euc_kr_bytes > LMS_CONTENT_MAX_BYTES:
            problems.append(
                (
                    "content",
                    "too_long",
                    f"lms content is {content.euc_kr_bytes} bytes in EUC-KR; at most {LMS_CONTENT_MAX_BYTES}",
                )
            )
        if has_title and title.euc_kr_bytes is not None and title.euc_kr_bytes > LMS_TITLE_MAX_BYTES:
            problems.append(
                (
                    "title",
                    "too_long",
                    f"lms title is {title.euc_kr_bytes} bytes in EUC-KR; at most {LMS_TITLE_MAX_BYTES}",
                )
            )
    return (None if problems else resolved), problems
