"""Logging for every function: Powertools' structured JSON logs, with personal data (phone numbers,
email addresses) masked in every line, and the same treatment for the domain's own loggers."""

from __future__ import annotations

import logging
import re
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

_PHONE = re.compile(r"(?<!\d)(?:\+?82[\s-]?1|01)[016789][\s-]?\d{3,4}[\s-]?\d{4}(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_STANDARD_ATTRIBUTES = set(vars(logging.makeLogRecord({})))


def mask_personal_data(text: str) -> str:
    """Keeps the last two digits of a phone (enough to tell recipients apart) and the email's domain."""
    text = _PHONE.sub(lambda m: "***" + re.sub(r"\D", "", m.group())[-2:], text)
    return _EMAIL.sub(lambda m: "***@" + m.group().split("@", 1)[1], text)


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask_personal_data(value)
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
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
                setattr(record, name, _masked(value))
        return True


def service_logger() -> Logger:
    """The function's Powertools logger; domain modules' loggers (`shared.*`) write through it too."""
    logger = Logger()
    for handler in logger.handlers:
        if not any(isinstance(f, PersonalDataFilter) for f in handler.filters):
            handler.addFilter(PersonalDataFilter())
    copy_config_to_registered_loggers(source_logger=logger, include={"shared"})
    return logger
