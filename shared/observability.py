"""Logging for every function: Powertools' structured JSON logs, with personal data (phone numbers,
email addresses) masked and API keys hidden in every line - also in a logged Lambda event, should event logging
(POWERTOOLS_LOGGER_LOG_EVENT) be switched on - and the same treatment for the domain's own loggers."""

from __future__ import annotations

import logging
import re
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

from shared.domain.accounts.auth import ACCOUNT_KEY_PREFIX

# Korean mobile numbers in the spellings the phone parser accepts: 010-1234-5678, 01012345678, 010.1234.5678,
# (010) 1234-5678, +82 10-1234-5678, +82 (0)10 1234 5678, +821012345678.
_PHONE = re.compile(r"(?<!\d)(?:\+?82[\s.-]?(?:\(0\)[\s.-]?)?1|\(?01)[016789]\)?[\s.-]?\d{3,4}[\s.-]?\d{4}(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_BEARER = re.compile(r"(?i)\b(bearer)\s+[^\s\"',;]+")
_ACCOUNT_KEY = re.compile(re.escape(ACCOUNT_KEY_PREFIX) + r"[A-Za-z0-9_-]+")
# Fields whose whole value is a credential, whatever it looks like (the admin key has no fixed form).
_SECRET_FIELDS = frozenset({"authorization", "authorizationtoken", "api_key", "apikey", "x-api-key"})
_STANDARD_ATTRIBUTES = set(vars(logging.makeLogRecord({})))


def mask_personal_data(text: str) -> str:
    """Keeps the last two digits of a phone (enough to tell recipients apart) and the email's domain; hides
    bearer tokens and account API keys entirely."""
    text = _BEARER.sub(lambda m: m.group(1) + " ***", text)
    text = _ACCOUNT_KEY.sub(ACCOUNT_KEY_PREFIX + "***", text)
    text = _PHONE.sub(lambda m: "***" + re.sub(r"\D", "", m.group())[-2:], text)
    return _EMAIL.sub(lambda m: "***@" + m.group().split("@", 1)[1], text)


def _is_secret_field(name: Any) -> bool:
    return isinstance(name, str) and name.lower() in _SECRET_FIELDS


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask_personal_data(value)
    if isinstance(value, dict):
        return {k: "***" if _is_secret_field(k) else _masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_masked(v) for v in value)
    return value


class PersonalDataFilter(logging.Filter):
    """Masks the message, its arguments and every extra field before a record is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _masked(record.getMessage()) if record.args else _masked(record.msg)
        record.args = None
        for name, value in list(vars(record).items()):
            if name not in _STANDARD_ATTRIBUTES:
                setattr(record, name, "***" if _is_secret_field(name) else _masked(value))
        return True


def service_logger() -> Logger:
    """The function's Powertools logger; domain modules' loggers (`shared.*`) write through it too."""
    logger = Logger()
    for handler in logger.handlers:
        if not any(isinstance(f, PersonalDataFilter) for f in handler.filters):
            handler.addFilter(PersonalDataFilter())
    copy_config_to_registered_loggers(source_logger=logger, include={"shared"})
    return logger
