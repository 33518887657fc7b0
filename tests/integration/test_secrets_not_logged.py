"""Secrets never reach a log line: API keys (admin and account), coupon codes, and unmasked phone numbers or email
addresses - through a whole flow driven in-process, with every line the product writes captured. Also: the admin
key is compared in constant time, and account keys are stored only as hashes."""

from __future__ import annotations

import hmac
import io
import itertools
import json
import logging
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from aws_lambda_powertools.logging.filters import SuppressFilter

from functions.api import handler as api
from functions.authorizer import handler as authorizer
from functions.send_gift import handler as gift_consumer
from functions.send_notification import handler as notification_consumer
from shared.domain.accounts.auth import hash_api_key
from tests.integration.api_client import Reply, reply_from_lambda
from tests.integration.conftest import ADMIN_KEY, IDEMPOTENCY_TABLE, TABLE
from tests.lambda_events import LambdaContextStub, api_event, drain_queue, sqs_event

STAGE_ARN = "arn:aws:execute-api:ap-northeast-2:123456789012:abc123/v1"
PRODUCT_LOGGERS = ("shared", "functions")

# Recipients in every format the contract (and the phone parser) accepts; by last eight digits.
GIFT_PHONES = {
    "11112222": "010-1111-2222",
    "33334444": "+82 10-3333-4444",
    "55556666": "010.5555.6666",
    "77771212": "(010) 7777-1212",
    "12349999": "01012349999",
}  # ...9999: provider error, retried
SMS_PHONES = {"24681357": "01024681357", "13572468": "+821013572468"}
EMAILS = ("lee.winner@example.com", "park.fails@fail.example")


# -- capturing what the product writes --------------------------------------------------------------------------


class _Collect(logging.Handler):
    """On the root logger: a product record that propagates there is written by the Lambda runtime's own handler,
    without the product's masking filter - so it is kept here exactly as it arrives (message and extra fields).
    Like the runtime's handler, it drops the service loggers' records (Powertools' de-duplication filter)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.prefixes: tuple[str, ...] = PRODUCT_LOGGERS
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(self.prefixes):
            self.lines.append(json.dumps({**vars(record), "message": record.getMessage()}, default=str))


@dataclass
class _Handler:
    logger: str
    handler: logging.StreamHandler[Any]


def _product_handlers() -> list[_Handler]:
    """Every stream handler in the logging tree that is not pytest's own: the Powertools service loggers' handlers
    (one per service name the functions were imported under) and the domain loggers' copies of them."""
    found = []
    for name, candidate in logging.root.manager.loggerDict.items():
        if not isinstance(candidate, logging.Logger):
            continue
        for handler in candidate.handlers:
            if isinstance(handler, logging.StreamHandler) and not type(handler).__module__.startswith("_pytest"):
                found.append(_Handler(name, handler))
    return found


@dataclass
class CapturedLogs:
    handler_output: io.StringIO = field(default_factory=io.StringIO)
    propagated: _Collect = field(default_factory=_Collect)
    std: str = ""

    @property
    def text(self) -> str:
        return "\n".join([self.handler_output.getvalue(), *self.propagated.lines, self.std])

    def lines(self) -> list[str]:
        return [line for line in self.text.splitlines() if line.strip()]


@contextmanager
def product_logs(capfd: pytest.CaptureFixture[str]) -> Iterator[CapturedLogs]:
    """Every line the product's log handlers write - at DEBUG, stricter than production's INFO (debug sampling
    can switch it on) - plus product records reaching the root logger, plus stdout/stderr (metrics, prints)."""
    captured = CapturedLogs()
    handlers = _product_handlers()
    assert handlers, "no product log handler found: the capture would see nothing"
    services = tuple(h.logger for h in handlers if not h.logger.startswith(PRODUCT_LOGGERS))
    captured.propagated.prefixes = PRODUCT_LOGGERS + services
    for service in services:
        captured.propagated.addFilter(SuppressFilter(service))
    loggers = {logging.getLogger(h.logger) for h in handlers} | {
        logging.getLogger(name) for name in list(logging.root.manager.loggerDict) if name.startswith(PRODUCT_LOGGERS)
    }
    levels = {lg: lg.level for lg in loggers}
    streams = [(h.handler, h.handler.setStream(captured.handler_output)) for h in handlers]
    root = logging.getLogger()
    root.addHandler(captured.propagated)
    capfd.readouterr()
    try:
        for lg in loggers:
            lg.setLevel(logging.DEBUG)
        yield captured
    finally:
        root.removeHandler(captured.propagated)
        for handler, previous in streams:
            handler.setStream(previous)
        for lg, level in levels.items():
            lg.setLevel(level)
        out = capfd.readouterr()
        captured.std = out.out + out.err


# -- driving the functions as AWS would ---------------------------------------------------------------------------


Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class Functions:
    """The Lambda handlers, optionally with Powertools' event logging (POWERTOOLS_LOGGER_LOG_EVENT=true, what an
    operator switches on to debug) applied through each function's own logger."""

    api: Handler
    authorizer: Handler
    gift_consumer: Handler
    notification_consumer: Handler
    idempotency_keys: Iterator[int] = field(default_factory=itertools.count)

    @classmethod
    def deployed(cls, *, log_event: bool) -> Functions:
        def wrap(module: Any) -> Handler:
            handler: Handler = module.lambda_handler
            return module.logger.inject_lambda_context(handler, log_event=True) if log_event else handler

        return cls(wrap(api), wrap(authorizer), wrap(gift_consumer), wrap(notification_consumer))

    def call(self, key: str, method: str, path: str, body: Any = None) -> Reply:
        """API Gateway: the authorizer with the bearer token, then the API with its context and all headers."""
        header = f"Bearer {key}"
        verdict = self.authorizer(
            {"type": "TOKEN", "authorizationToken": header, "methodArn": f"{STAGE_ARN}/{method}{path}"},
            LambdaContextStub(),
        )
        context = verdict["context"]
        event = api_event(
            method,
            path,
            body=body,
            role=context["role"],
            account_id=context["account_id"],
            headers={"Authorization": header, "Idempotency-Key": f"k{next(self.idempotency_keys)}"},
        )
        return reply_from_lambda(self.api(event, LambdaContextStub()))

    def drain(self, aws: dict[str, Any]) -> None:
        for consumer, queue in (
            (self.gift_consumer, aws["queue_url"]),
            (self.notification_consumer, aws["notification_queue_url"]),
        ):
            messages = drain_queue(aws["sqs"], queue)
            if messages:
                assert consumer(sqs_event(messages), LambdaContextStub()) == {"batchItemFailures": []}


@dataclass
class FlowSecrets:
    account_key: str
    coupons: list[str]


def _run_flow(fn: Functions, aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> FlowSecrets:
    """Account with an issued key, top-up, approval, gift send with coupons issued, notification sends (sms and
    email), recipients listed with their coupons, and one unexpected internal error on a keyed request."""
    assert fn.call(ADMIN_KEY, "POST", "/admin/catalog/sync").status == 200
    created = fn.call(ADMIN_KEY, "POST", "/admin/accounts", {"name": "Bakery"})
    assert created.status == 201, created.body
    account_id, key = created.body["account_id"], created.body["api_key"]
    assert fn.call(ADMIN_KEY, "POST", f"/admin/accounts/{account_id}/gift-approval", {"approved": True}).status == 200
    top_up = fn.call(
        ADMIN_KEY, "POST", f"/admin/accounts/{account_id}/credits", {"amount": 200_000, "reference": "pg-1"}
    )
    assert top_up.status == 200, top_up.body

    promotion = fn.call(key, "POST", "/promotions", {"name": "Spring"}).body["promotion_id"]
    gift = fn.call(
        key,
        "POST",
        "/gift-sends",
        {
            "promotion_id": promotion,
            "gift_id": "SBX-COFFEE",
            "title": "Winner",
            "content": "Enjoy your coffee",
            "recipients": [{"phone": phone, "name": f"Winner {i}"} for i, phone in enumerate(GIFT_PHONES.values())],
        },
    )
    assert gift.status == 202, gift.body
    for channel in ("sms", "email"):
        assert fn.call(key, "POST", "/charges", {"channel": channel, "quantity": 5}).status == 201
    sms = fn.call(
        key,
        "POST",
        "/notification-sends",
        {
            "promotion_id": promotion,
            "channel": "sms",
            "content": "{name}, you won",
            "recipients": [{"phone": phone, "name": "Kim"} for phone in SMS_PHONES.values()],
        },
    )
    email = fn.call(
        key,
        "POST",
        "/notification-sends",
        {
            "promotion_id": promotion,
            "channel": "email",
            "title": "You won",
            "content": "Hello {name}",
            "recipients": [{"email": address, "name": "Lee"} for address in EMAILS],
        },
    )
    assert (sms.status, email.status) == (202, 202), (sms.body, email.body)
    fn.drain(aws)

    recipients = fn.call(key, "GET", f"/gift-sends/{gift.body['send_id']}/recipients").body["items"]
    coupons = [r["coupon"]["coupon_id"] for r in recipients if r["coupon"]]
    assert len(coupons) == 4  # every recipient but the provider-error one got a gifticon
    assert fn.call(key, "GET", f"/notification-sends/{email.body['send_id']}/recipients").status == 200
    assert fn.call(key, "GET", "/account/ledger").status == 200

    from functions.api.routes import account as account_routes

    def broken(*_: Any) -> Any:
        raise RuntimeError("storage exploded")

    monkeypatch.setattr(account_routes.accounts, "account_view", broken)
    assert fn.call(key, "GET", "/account").status == 500  # logged with its traceback
    return FlowSecrets(account_key=key, coupons=coupons)


def _phone_pattern(last_eight: str) -> re.Pattern[str]:
    """The subscriber number in any spelling (separators or none); masking keeps only its last two digits."""
    return re.compile(rf"{last_eight[:4]}\D{{0,3}}{last_eight[4:]}")


@pytest.mark.parametrize("log_event", [False, True], ids=["default", "event-logging-on"])
def test_no_secret_or_personal_data_in_any_log_line(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str], log_event: bool
) -> None:
    fn = Functions.deployed(log_event=log_event)
    with product_logs(capfd) as logs:
        secrets_ = _run_flow(fn, aws, monkeypatch)
    text = logs.text

    # The capture saw the flow: the internal error with its traceback, the metrics, and - with event logging -
    # every event, phones and emails masked rather than dropped.
    assert '"unhandled error"' in text and "storage exploded" in text
    assert '"_aws"' in text  # embedded-metric lines on stdout
    if log_event:
        assert '"httpMethod"' in text and '"authorizationToken"' in text
        assert "***22" in text and "***@example.com" in text and "***@fail.example" in text

    leaks = []
    for name, secret in [
        ("admin key", ADMIN_KEY),
        ("account key", secrets_.account_key),
        *[(f"coupon {c}", c) for c in secrets_.coupons],
    ]:
        leaks += [f"{name} in: {line[:300]}" for line in logs.lines() if secret in line]
    for digits in [*GIFT_PHONES, *SMS_PHONES]:
        leaks += [f"phone {digits} in: {line[:300]}" for line in logs.lines() if _phone_pattern(digits).search(line)]
    for address in EMAILS:
        leaks += [f"{address} in: {line[:300]}" for line in logs.lines() if address.split("@")[0] in line]
    assert not leaks, "\n".join(leaks)


# -- how keys are checked and kept ------------------------------------------------------------------------------


def _authorize(token: str, path: str = "/account") -> dict[str, Any]:
    result: dict[str, Any] = authorizer.lambda_handler(
        {"type": "TOKEN", "authorizationToken": token, "methodArn": f"{STAGE_ARN}/GET{path}"}, LambdaContextStub()
    )
    return result


def test_admin_key_is_compared_in_constant_time(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Every admin-key decision, right or nearly right, is made by hmac.compare_digest on the whole values - never
    by ==, which stops at the first differing character and so leaks how much of a guess was right."""
    seen: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    assert _authorize(f"Bearer {ADMIN_KEY}", "/admin/accounts")["context"]["role"] == "admin"
    near_misses = [ADMIN_KEY[:-1] + "X", "X" + ADMIN_KEY[1:], ADMIN_KEY[:-1], ADMIN_KEY + "0"]
    for guess in near_misses:
        with pytest.raises(Exception, match=r"^Unauthorized$"):
            _authorize(f"Bearer {guess}", "/admin/accounts")
    assert seen == [(t.encode(), ADMIN_KEY.encode()) for t in [ADMIN_KEY, *near_misses]]


def test_account_keys_are_stored_only_as_hashes_and_shown_once(aws: dict[str, Any]) -> None:
    fn = Functions.deployed(log_event=False)
    created = fn.call(ADMIN_KEY, "POST", "/admin/accounts", {"name": "Shop"}).body
    key = created["api_key"]
    assert _authorize(f"Bearer {key}")["context"] == {"role": "account", "account_id": created["account_id"]}

    stored = json.dumps([aws["dynamodb"].scan(TableName=t)["Items"] for t in (TABLE, IDEMPOTENCY_TABLE)])
    assert key not in stored
    assert key[len("wn_live_") :] not in stored
    assert hash_api_key(key) in stored
    assert "api_key" not in fn.call(key, "GET", "/account").body


@pytest.mark.parametrize(
    "token",
    [
        "Bearer wn_live_\udcff",
        "Bearer \ud800",
        "Bearer ключ",
        "Bearer wn_live_\u0000",
        f"Bearer {'k' * 300}",
        f"Bearer {ADMIN_KEY}\u200b",
        f"bearer{ADMIN_KEY}",
    ],
    ids=["lone-surrogate", "surrogate-only", "cyrillic", "nul", "too-long", "zero-width-suffix", "no-space"],
)
def test_odd_tokens_are_unauthorized_not_a_crash(aws: dict[str, Any], token: str) -> None:
    """An authorizer that raises anything but "Unauthorized" makes API Gateway answer 500."""
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        _authorize(token)
