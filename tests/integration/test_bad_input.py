"""Bad input at every route that takes a body, through the in-process API: never a 5xx, always the contract's error
envelope, and nothing stored or charged by a refused request.

What the contract fixes and these tests hold the code to:
- A body that is not JSON (RFC 8259: truncated, trailing garbage, ``NaN``/``Infinity``, comments, a BOM, bytes that
  are not UTF-8, nesting or numbers beyond the parser) is 400 ``BAD_REQUEST`` with ``{"code", "message"}``.
- JSON of the wrong shape is 422 ``VALIDATION_ERROR`` with ``details`` (``loc``/``msg``/``type``): a non-object body,
  an absent body (API Gateway passes an empty body as null; the contract's 400 is for *malformed* JSON), wrong types
  (no coercion: "5", 5.0 and true are not integers; numbers are not timestamps), unknown fields (every request model
  forbids them, so a misspelt field is reported instead of silently ignored) and broken limits.
- Lengths are counted in Unicode code points (Python ``len``), as pydantic does: "e\\u0301" is two characters.
  SMS/LMS text must encode in EUC-KR; email text may be any Unicode except control characters.
- Text that is accepted is stored exactly as sent (no normalization) and reads back identically through GET.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.integration.api_client import ADMIN, ApiClient, Reply, new_account, reply_from_lambda
from tests.integration.conftest import IDEMPOTENCY_TABLE, TABLE
from tests.lambda_events import LambdaContextStub, api_event, drain_queue, sqs_event

CREDITS = 100_000
COUNTS = 30  # sms and email counts bought up front
MAX_RECIPIENTS = 10_000
DELETE = object()  # a mutation that removes the field


# -- the routes and a world to call them in ---------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    admin: bool
    method: str
    path: str  # {account}, {promotion}, {send} filled in from the world
    body: dict[str, Any]  # a valid body; "{promotion}" as a value is the world's promotion
    body_optional: bool = False


ROUTES: dict[str, Route] = {
    "admin-accounts": Route(True, "POST", "/admin/accounts", {"name": "Bakery"}),
    "gift-approval": Route(True, "POST", "/admin/accounts/{account}/gift-approval", {"approved": True}),
    "top-up": Route(True, "POST", "/admin/accounts/{account}/credits", {"amount": 1_000, "reference": "pg-9"}),
    "alerts": Route(False, "PUT", "/account/alerts", {"credits_below": 100, "counts_below": {"sms": 1}}),
    "promotions": Route(False, "POST", "/promotions", {"name": "Summer"}),
    "auto-notification": Route(
        False,
        "PUT",
        "/promotions/{promotion}/auto-notification",
        {"enabled": True, "channel": "sms", "content": "Hi {name}"},
    ),
    "winners": Route(
        False, "POST", "/promotions/{promotion}/winners", {"winners": [{"name": "Kim", "phone": "010-2222-3333"}]}
    ),
    "gift-sends": Route(
        False,
        "POST",
        "/gift-sends",
        {
            "promotion_id": "{promotion}",
            "gift_id": "SBX-COFFEE",
            "title": "Winner",
            "content": "Congratulations",
            "recipients": [{"phone": "010-2222-3333", "name": "Kim"}],
        },
    ),
    "notification-sends": Route(
        False,
        "POST",
        "/notification-sends",
        {
            "promotion_id": "{promotion}",
            "channel": "sms",
            "content": "Hi {name}",
            "recipients": [{"phone": "010-2222-3333", "name": "Kim"}],
        },
    ),
    "notification-resend": Route(
        False, "POST", "/notification-sends/{send}/resend", {"channel": "sms"}, body_optional=True
    ),
    "charges": Route(False, "POST", "/charges", {"channel": "sms", "quantity": 2}),
}


@dataclass
class World:
    aws: dict[str, Any]
    client: ApiClient
    promotion_id: str
    send_id: str  # a notification send, for the resend route
    winners_recorded: int = 0

    def path(self, route: Route) -> str:
        return route.path.format(account=self.client.account_id, promotion=self.promotion_id, send=self.send_id)

    def body(self, route: Route) -> dict[str, Any]:
        body = copy.deepcopy(route.body)
        return {k: self.promotion_id if v == "{promotion}" else v for k, v in body.items()}

    def call(
        self,
        route: Route,
        body: Any = None,
        *,
        raw: str | None = None,
        raw_base64: bytes | None = None,
        base64_flag: bool = False,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """``body`` as JSON, or ``raw`` text as the body, or ``raw_base64`` bytes as an isBase64Encoded body
        (``base64_flag``: ``raw`` as it is, marked isBase64Encoded)."""
        from functions.api.handler import lambda_handler

        account_id = "" if route.admin else self.client.account_id
        event = api_event(
            route.method,
            self.path(route),
            body=body,
            raw_body=raw,
            headers=headers,
            role="admin" if route.admin else "account",
            account_id=account_id,
        )
        if raw_base64 is not None:
            event["body"], event["isBase64Encoded"] = base64.b64encode(raw_base64).decode(), True
        if base64_flag:
            event["isBase64Encoded"] = True
        return reply_from_lambda(lambda_handler(event, LambdaContextStub()))

    def stored(self) -> list[str]:
        """Every item in the data and idempotency tables, to show a refused request changed nothing."""
        items: list[str] = []
        for table in (TABLE, IDEMPOTENCY_TABLE):
            kwargs: dict[str, Any] = {"TableName": table}
            while True:
                page = self.aws["dynamodb"].scan(**kwargs)
                # The fair-use counters count every request, refused ones too: they are not the account's data.
                items += [
                    json.dumps(item, sort_keys=True, default=repr)  # a packed batch is binary
                    for item in page["Items"]
                    if not item.get("pk", {}).get("S", "").endswith("#RATE")
                ]
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted(items)

    def queued(self) -> int:
        return sum(len(drain_queue(self.aws["sqs"], self.aws[q])) for q in ("queue_url", "notification_queue_url"))

    def process_queues(self) -> None:
        """The background consumers, as the existing unit tests run them: every queued batch job, now."""
        from functions.send_gift.handler import lambda_handler as gift_consumer
        from functions.send_notification.handler import lambda_handler as notification_consumer

        for consumer, queue in ((gift_consumer, "queue_url"), (notification_consumer, "notification_queue_url")):
            messages = drain_queue(self.aws["sqs"], self.aws[queue])
            if messages:
                assert consumer(sqs_event(messages), LambdaContextStub()) == {"batchItemFailures": []}


@pytest.fixture
def world(aws: dict[str, Any]) -> World:
    assert ADMIN.post("/admin/catalog/sync").status == 200
    client = new_account("Acme", credits=CREDITS)
    for channel in ("sms", "email"):
        assert client.post("/charges", {"channel": channel, "quantity": COUNTS}).status == 201
    promotion = client.post("/promotions", {"name": "Spring"}).body["promotion_id"]
    send = client.post(
        "/notification-sends",
        {"promotion_id": promotion, "channel": "sms", "content": "Hi", "recipients": [{"phone": "010-1234-5678"}]},
    )
    assert send.status == 202, send.body
    built = World(aws, client, promotion, send.body["send_id"])
    built.queued()  # start with empty queues
    return built


def error_problems(label: str, reply: Reply, status: int, code: str) -> list[str]:
    """What is wrong with ``reply`` as the contract's error answer (empty when it is right)."""
    body = reply.body
    if reply.status != status or not isinstance(body, dict) or body.get("code") != code:
        return [f"{label}: expected {status} {code}, got {reply.status} {str(body)[:300]}"]
    problems = []
    if set(body) - {"code", "message", "details"} or not isinstance(body.get("message"), str) or not body["message"]:
        problems.append(f"{label}: not the error envelope: {str(body)[:300]}")
    details = body.get("details")
    if status == 422 and not (
        isinstance(details, list) and details and all({"loc", "msg", "type"} <= set(d) for d in details)
    ):
        problems.append(f"{label}: 422 without loc/msg/type details: {str(body)[:300]}")
    if status != 422 and details is not None:
        problems.append(f"{label}: details on a {status}: {str(body)[:300]}")
    return problems


def assert_error(reply: Reply, status: int, code: str) -> None:
    problems = error_problems("reply", reply, status, code)
    assert not problems, problems


def _locs(reply: Reply) -> list[list[Any]]:
    return [list(d["loc"]) for d in (reply.body or {}).get("details", [])]


def test_every_routes_valid_body_is_accepted(world: World) -> None:
    """The control for everything below: each route's base body succeeds, so a refusal is the mutation's doing."""
    for name, route in ROUTES.items():
        reply = world.call(route, world.body(route))
        assert 200 <= reply.status < 300, (name, reply.status, reply.body)


# -- bodies that are not JSON: 400 ------------------------------------------------------------------------------


def _first_key(body: dict[str, Any]) -> str:
    return next(iter(body))


def _with_first_value(body: dict[str, Any], value: Any) -> str:
    return json.dumps({**body, _first_key(body): value})  # json.dumps writes NaN/Infinity, which JSON has not


MALFORMED: dict[str, Callable[[dict[str, Any]], str]] = {
    "truncated": lambda b: json.dumps(b)[: len(json.dumps(b)) // 2],
    "trailing-garbage": lambda b: json.dumps(b) + " trailing",
    "two-documents": lambda b: json.dumps(b) * 2,
    "nan-value": lambda b: _with_first_value(b, float("nan")),
    "infinity-value": lambda b: _with_first_value(b, float("inf")),
    "minus-infinity-value": lambda b: _with_first_value(b, float("-inf")),
    "nan-document": lambda b: "NaN",
    "single-quotes": lambda b: json.dumps(b).replace('"', "'"),
    "trailing-comma": lambda b: json.dumps(b)[:-1] + ",}",
    "comment": lambda b: json.dumps(b)[:-1] + " /* note */}",
    "unquoted-key": lambda b: "{" + _first_key(b) + ": 1}",
    "raw-control-character-in-string": lambda b: json.dumps(b).replace('":', '\u0001":', 1),
    "invalid-escape": lambda b: '{"' + _first_key(b) + '": "\\x41"}',
    "whitespace-only": lambda b: " \n\t ",
    "byte-order-mark": lambda b: "\ufeff" + json.dumps(b),
    "bare-word": lambda b: "hello",
    "nesting-100000-deep": lambda b: "[" * 100_000 + "]" * 100_000,
    "integer-of-5000-digits": lambda b: '{"' + _first_key(b) + '": ' + "9" * 5000 + "}",
}
NOT_UTF8: dict[str, Callable[[dict[str, Any]], bytes]] = {
    "invalid-utf8-byte": lambda b: json.dumps(b).encode().replace(b'"', b'"\xff', 1),
    "latin-1-text": lambda b: json.dumps({**b, _first_key(b): "café"}, ensure_ascii=False).encode("latin-1"),
    "utf-16": lambda b: json.dumps(b).encode("utf-16"),
}


def test_bodies_that_are_not_json_are_400_and_json_that_is_not_an_object_422(world: World) -> None:
    problems: list[str] = []
    for route_name, route in ROUTES.items():
        body = world.body(route)
        before = world.stored()
        for kind, make in MALFORMED.items():
            problems += error_problems(f"{route_name} {kind}", world.call(route, raw=make(body)), 400, "BAD_REQUEST")
        for kind, encode in NOT_UTF8.items():
            reply = world.call(route, raw_base64=encode(body))
            problems += error_problems(f"{route_name} {kind}", reply, 400, "BAD_REQUEST")
        reply = world.call(route, raw="%%% not base64 %%%", base64_flag=True)
        problems += error_problems(f"{route_name} not-base64", reply, 400, "BAD_REQUEST")

        # Well-formed JSON that is not an object - also an array holding a valid body, which Powertools would
        # otherwise have unwrapped (and three routes then answered 500) - is a validation error about the body.
        not_objects = {
            "array": "[]",
            "array-holding-the-body": json.dumps([body, {"other": 1}]),
            "string": '"text"',
            "number": "42",
            "boolean": "true",
        }
        absent = {"absent": None, "empty": "", "json-null": "null"}
        for kind, raw in not_objects.items() | (absent.items() if not route.body_optional else {}):
            reply = world.call(route, raw=raw)
            problems += error_problems(f"{route_name} {kind}", reply, 422, "VALIDATION_ERROR")
            if reply.status == 422 and _locs(reply) != [["body"]]:
                problems.append(f"{route_name} {kind}: expected one detail about the body, got {reply.body}")
        if world.stored() != before or world.queued():
            problems.append(f"{route_name}: a refused body changed the stored data or queued work")

        if route.body_optional:
            # POST /notification-sends/{id}/resend: the body only narrows the resend; without one, all is resent.
            problems += [
                f"{route_name} {kind}: {r.status} {r.body}"
                for kind, r in ((k, world.call(route, raw=raw)) for k, raw in absent.items())
                if r.status != 202
            ]
        # The control: the same body, base64-encoded UTF-8 (isBase64Encoded), is read.
        reply = world.call(route, raw_base64=json.dumps(body, ensure_ascii=False).encode())
        if not 200 <= reply.status < 300:
            problems.append(f"{route_name}: the base64 control was refused: {reply.status} {reply.body}")
        world.queued()
    assert not problems, "\n".join(problems)


# -- wrong types, missing and unknown fields: 422 ---------------------------------------------------------------

Path = tuple[str | int, ...]
TYPE_CASES: dict[str, list[tuple[str, Path, Any]]] = {
    "admin-accounts": [
        ("name-object", ("name",), {"first": "Ba", "last": "kery"}),
        ("name-null", ("name",), None),
        ("name-number", ("name",), 7),
        ("name-empty", ("name",), ""),
        ("name-missing", ("name",), DELETE),
        ("name-101-chars", ("name",), "n" * 101),
    ],
    "gift-approval": [
        ("approved-string", ("approved",), "true"),
        ("approved-int", ("approved",), 1),
        ("approved-null", ("approved",), None),
        ("approved-missing", ("approved",), DELETE),
    ],
    "top-up": [
        ("amount-string", ("amount",), "1000"),
        ("amount-float", ("amount",), 1000.0),
        ("amount-fraction", ("amount",), 10.5),
        ("amount-bool", ("amount",), True),
        ("amount-null", ("amount",), None),
        ("amount-list", ("amount",), [1000]),
        ("amount-zero", ("amount",), 0),
        ("amount-negative", ("amount",), -5),
        ("amount-exponent", ("amount",), 1e3),
        ("reference-number", ("reference",), 123),
        ("reference-object", ("reference",), {"id": "pg-9"}),
        ("reference-empty", ("reference",), ""),
        ("reference-missing", ("reference",), DELETE),
    ],
    "alerts": [
        ("credits-below-string", ("credits_below",), "100"),
        ("credits-below-float", ("credits_below",), 1.5),
        ("credits-below-bool", ("credits_below",), True),
        ("credits-below-negative", ("credits_below",), -1),
        ("count-string", ("counts_below", "sms"), "1"),
        ("channel-fax", ("counts_below", "fax"), 1),
        ("counts-list", ("counts_below",), ["sms"]),
    ],
    "promotions": [
        ("name-number", ("name",), 5),
        ("name-null", ("name",), None),
        ("name-object", ("name",), {"ko": "여름"}),
        ("name-list", ("name",), ["Summer"]),
        ("name-empty", ("name",), ""),
    ],
    "auto-notification": [
        ("enabled-string", ("enabled",), "yes"),
        ("channel-unknown", ("channel",), "fax"),
        ("content-null", ("content",), None),
        ("title-number", ("title",), 5),
    ],
    "winners": [
        ("winners-object", ("winners",), {"name": "Kim"}),
        ("winners-empty", ("winners",), []),
        ("winner-string", ("winners", 0), "Kim"),
        ("name-null", ("winners", 0, "name"), None),
        ("phone-number", ("winners", 0, "phone"), 1022223333),
        ("email-list", ("winners", 0, "email"), ["a@b.c"]),
    ],
    "gift-sends": [
        ("title-null", ("title",), None),
        ("title-number", ("title",), 12345),
        ("content-object", ("content",), {"text": "Congratulations"}),
        ("gift-id-number", ("gift_id",), 123),
        ("promotion-id-null", ("promotion_id",), None),
        ("recipients-object", ("recipients",), {"phone": "010"}),
        ("recipient-string", ("recipients", 0), "010-2222-3333"),
        ("phone-number", ("recipients", 0, "phone"), 1022223333),
        ("phone-null", ("recipients", 0, "phone"), None),
        ("name-object", ("recipients", 0, "name"), {"first": "Kim"}),
        ("draft-string", ("draft",), "true"),
        ("dry-run-int", ("dry_run",), 1),
        ("send-at-unix-number", ("send_at",), 1_900_000_000),
        ("send-at-unix-digits", ("send_at",), "1900000000"),
        ("send-at-bool", ("send_at",), True),
        ("send-at-no-offset", ("send_at",), "2030-01-01T10:00:00"),
        ("title-missing", ("title",), DELETE),
    ],
    "notification-sends": [
        ("channel-uppercase", ("channel",), "SMS"),
        ("channel-null", ("channel",), None),
        ("content-null", ("content",), None),
        ("title-list", ("title",), ["Hi"]),
        ("phone-number", ("recipients", 0, "phone"), 1022223333),
        ("name-object", ("recipients", 0, "name"), {"first": "Kim"}),
        ("send-at-unix-number", ("send_at",), 1_900_000_000),
        ("draft-null", ("draft",), None),
    ],
    "notification-resend": [("channel-auto", ("channel",), "auto"), ("channel-number", ("channel",), 1)],
    "charges": [
        ("quantity-string", ("quantity",), "2"),
        ("quantity-float", ("quantity",), 2.0),
        ("quantity-fraction", ("quantity",), 2.5),
        ("quantity-bool", ("quantity",), True),
        ("quantity-null", ("quantity",), None),
        ("quantity-object", ("quantity",), {"n": 2}),
        ("quantity-zero", ("quantity",), 0),
        ("quantity-negative", ("quantity",), -1),
        ("quantity-too-many", ("quantity",), 10_000_001),
        ("channel-auto", ("channel",), "auto"),
        ("channel-number", ("channel",), 1),
        ("quantity-missing", ("quantity",), DELETE),
    ],
}
_TOP_LEVEL_UNKNOWN: list[Path] = [("unexpected",)]
UNKNOWN_FIELDS: dict[str, list[Path]] = dict.fromkeys(ROUTES, _TOP_LEVEL_UNKNOWN) | {  # nested unknown fields too
    "winners": [("unexpected",), ("winners", 0, "age")],
    "gift-sends": [("unexpected",), ("recipients", 0, "email")],  # a gift recipient has no email
    "notification-sends": [("unexpected",), ("recipients", 0, "nickname")],
}


def _mutated(body: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(body)
    target: Any = changed
    for step in path[:-1]:
        target = target[step]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return changed


def test_wrong_types_missing_and_unknown_fields_are_422_naming_the_field(world: World) -> None:
    problems: list[str] = []
    for route_name, route in ROUTES.items():
        cases = list(TYPE_CASES[route_name])
        cases += [(f"unknown-{'.'.join(map(str, path))}", path, 1) for path in UNKNOWN_FIELDS[route_name]]
        before = world.stored()
        for kind, path, value in cases:
            label = f"{route_name} {kind}"
            reply = world.call(route, _mutated(world.body(route), path, value))
            problems += error_problems(label, reply, 422, "VALIDATION_ERROR")
            expected = ["body", *path]
            if reply.status == 422 and not any(loc[: len(expected)] == expected for loc in _locs(reply)):
                problems.append(f"{label}: no detail at {expected}: {reply.body}")
            if (
                kind.startswith("unknown-")
                and reply.status == 422
                and not any(d["type"] == "extra_forbidden" for d in reply.body["details"])
            ):
                problems.append(f"{label}: not reported as an unknown field: {reply.body}")
        if world.stored() != before or world.queued():
            problems.append(f"{route_name}: a refused body changed the stored data or queued work")
    assert not problems, "\n".join(problems)


# -- sizes: limits exactly, huge bodies never 5xx ---------------------------------------------------------------


def _gift(world: World, **changes: Any) -> Reply:
    return world.call(ROUTES["gift-sends"], {**world.body(ROUTES["gift-sends"]), **changes})


def _notification(world: World, channel: str, content: str, title: str | None = None) -> Reply:
    """A dry run: the message rules are checked as for a real send, and nothing is created."""
    recipient = {"email": "kim@example.com"} if channel == "email" else {"phone": "010-2222-3333"}
    body: dict[str, Any] = {
        "promotion_id": world.promotion_id,
        "channel": channel,
        "content": content,
        "recipients": [recipient],
        "dry_run": True,
    }
    if title is not None:
        body["title"] = title
    return world.call(ROUTES["notification-sends"], body)


GIFT_LIMITS: list[tuple[str, str, str, str]] = [  # (case, field, the longest accepted, the shortest refused)
    ("title-ascii", "title", "T" * 10, "T" * 11),
    ("title-hangul", "title", "가나다라마바사아자차", "가나다라마바사아자차카"),
    ("title-combining-marks", "title", "e\u0301" * 5, "e\u0301" * 6),  # 6 visible letters are 12 characters
    ("title-hangul-jamo", "title", "\u1112\u1161\u11ab" * 3 + "!", "\u1112\u1161\u11ab" * 3 + "!?"),
    ("content-ascii", "content", "C" * 1500, "C" * 1501),
    ("content-hangul", "content", "축" * 1500, "축" * 1501),
]


def test_gift_text_limits_are_exact_in_code_points(world: World) -> None:
    before = world.stored()
    problems: list[str] = []
    for case, field, _, refused in GIFT_LIMITS:
        reply = _gift(world, **{field: refused})
        problems += error_problems(case, reply, 422, "VALIDATION_ERROR")
        if reply.status == 422 and ["body", field] not in _locs(reply):
            problems.append(f"{case}: no detail at {field}: {reply.body}")
    assert world.stored() == before
    for case, field, accepted, _ in GIFT_LIMITS:
        reply = _gift(world, **{field: accepted})
        if reply.status != 202:
            problems.append(f"{case}: the limit itself refused: {reply.status} {reply.body}")
        elif world.client.get(f"/gift-sends/{reply.body['send_id']}").body[field] != accepted:
            problems.append(f"{case}: not read back as sent")
    assert not problems, "\n".join(problems)


NOTIFICATION_LIMITS: list[tuple[str, str, str | None, str, str | None, str]] = [
    # (case, channel, title, content) at the limit, then (title, content) just over it
    ("sms-content-90-bytes", "sms", None, "가" * 45, None, "가" * 45 + "a"),
    ("sms-content-8-byte-syllables", "sms", None, "똠" * 11, None, "똠" * 12),  # outside KS X 1001: 88 / 96 bytes
    ("lms-content-2000-bytes", "lms", None, "가" * 1000, None, "가" * 1000 + "a"),
    ("lms-title-40-bytes", "lms", "가" * 20, "Hello", "가" * 20 + "a", "Hello"),
    ("email-title-200-chars", "email", "s" * 200, "Hello", "s" * 201, "Hello"),
    ("email-title-200-hangul", "email", "제" * 200, "Hello", "제" * 201, "Hello"),
    ("email-content-100000-chars", "email", "Subject", "c" * 100_000, "Subject", "c" * 100_001),
]


def test_notification_text_limits_are_exact(world: World) -> None:
    problems: list[str] = []
    for case, channel, title, content, over_title, over_content in NOTIFICATION_LIMITS:
        ok = _notification(world, channel, content, title)
        if (ok.status, (ok.body or {}).get("valid")) != (200, 1):
            problems.append(f"{case}: the limit itself refused: {ok.status} {ok.body}")
        problems += error_problems(
            case, _notification(world, channel, over_content, over_title), 422, "VALIDATION_ERROR"
        )
    assert not problems, "\n".join(problems)


MEGABYTES_5 = 5 * 1024 * 1024
HUGE: list[tuple[str, Path, Any]] = [
    ("admin-accounts", ("name",), "n" * MEGABYTES_5),
    ("top-up", ("reference",), "r" * MEGABYTES_5),
    ("promotions", ("name",), "한" * (MEGABYTES_5 // 3)),
    ("gift-sends", ("content",), "c" * MEGABYTES_5),
    ("notification-sends", ("content",), "가" * (MEGABYTES_5 // 3)),
    ("winners", ("winners", 0, "name"), "w" * MEGABYTES_5),
    ("alerts", ("k" * MEGABYTES_5,), 1),  # one unknown key of 5 MB: echoed in the details only in part
]


def test_multi_megabyte_bodies_are_422_with_a_small_answer(world: World) -> None:
    before = world.stored()
    problems: list[str] = []
    for route_name, path, value in HUGE:
        route = ROUTES[route_name]
        reply = world.call(route, _mutated(world.body(route), path, value))
        problems += error_problems(route_name, reply, 422, "VALIDATION_ERROR")
        if len(json.dumps(reply.body)) > 4_096:
            problems.append(f"{route_name}: a {len(json.dumps(reply.body))}-character answer")
    assert not problems, "\n".join(problems)
    assert world.stored() == before


def test_validation_details_are_bounded(world: World) -> None:
    """Regression: every unknown key became a detail echoing it, so a 1.5 MB body got a 12 MB 422 - over the 6 MB a
    Lambda function may return, which API Gateway turns into a 502. Details are now capped and keys truncated."""
    credits = world.client.get("/account").body["credits"]
    body = {**ROUTES["charges"].body, **{f"extra_field_{i:06d}": 1 for i in range(100_000)}}
    many = world.call(ROUTES["charges"], body)
    assert_error(many, 422, "VALIDATION_ERROR")
    assert len(many.body["details"]) == 50
    assert "100000 problems" in many.body["message"]
    assert len(json.dumps(many.body)) < 16_384
    assert world.client.get("/account").body["credits"] == credits

    long_key = world.call(ROUTES["promotions"], {"name": "ok", "x" * 10_000: 1})
    assert_error(long_key, 422, "VALIDATION_ERROR")
    (loc,) = _locs(long_key)
    assert loc[0] == "body" and loc[1].startswith("x" * 64) and len(loc[1]) <= 70


def test_deep_nesting_inside_a_field_is_422_and_beyond_the_parser_400(world: World) -> None:
    before = world.stored()
    for route_name in ("promotions", "gift-sends", "charges"):
        route = ROUTES[route_name]
        key = _first_key(route.body)
        extra = json.dumps(world.body(route))[:-1] + ', "deep": ' + "[" * 200 + "]" * 200 + "}"
        assert_error(world.call(route, raw=extra), 422, "VALIDATION_ERROR")
        in_field = '{"' + key + '": ' + '{"a": ' * 200 + "1" + "}" * 200 + "}"
        assert_error(world.call(route, raw=in_field), 422, "VALIDATION_ERROR")
        beyond = '{"' + key + '": ' + '{"a": ' * 50_000 + "1" + "}" * 50_000 + "}"
        assert_error(world.call(route, raw=beyond), 400, "BAD_REQUEST")
    assert world.stored() == before


def test_deeply_nested_cursors_are_422(world: World) -> None:
    """Regression: a cursor is base64 JSON; one decoding to 1,500 nested arrays made the JSON parser recurse out
    of stack (RecursionError), which all three cursor decoders let through: a 500 on GET. (Their 422 details
    also lacked ``type``, unlike every other validation detail.)"""
    deep = base64.urlsafe_b64encode(b"[" * 1_500).decode().rstrip("=")
    for path in (
        "/promotions",
        f"/promotions/{world.promotion_id}/winners",
        "/gift-sends",
        "/account/ledger",
        f"/notification-sends/{world.send_id}/recipients",
    ):
        reply = world.client.get(path, query={"cursor": deep})
        assert_error(reply, 422, "VALIDATION_ERROR")
        assert reply.body["details"][0]["loc"] == ["query", "cursor"]


# -- 10,001 recipients ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("route_name", ["gift-sends", "notification-sends"])
def test_ten_thousand_and_one_recipients_are_refused_and_nothing_is_stored_or_charged(
    world: World, route_name: str
) -> None:
    route = ROUTES[route_name]
    list_path = "/" + route_name
    sends_before = world.client.get(list_path).body["items"]
    account_before = world.client.get("/account").body
    ledger_before = world.client.get("/account/ledger").body
    before = world.stored()
    recipients = [{"phone": f"010-{3000 + i // 10_000:04d}-{i % 10_000:04d}"} for i in range(MAX_RECIPIENTS + 1)]
    body = {**world.body(route), "recipients": recipients}

    reply = world.call(route, body, headers={"Idempotency-Key": "big-send"})
    assert_error(reply, 422, "VALIDATION_ERROR")
    assert any(loc == ["body", "recipients"] for loc in _locs(reply))
    assert world.client.get("/account").body == account_before  # credits and counts unchanged
    assert world.client.get(list_path).body["items"] == sends_before
    assert world.stored() == before
    assert world.queued() == 0
    assert world.client.get("/account/ledger").body == ledger_before

    # The limit itself is allowed (estimated, so nothing is created), and the refused request did not use up
    # its Idempotency-Key.
    estimate = world.call(route, {**body, "recipients": recipients[:MAX_RECIPIENTS], "dry_run": True})
    assert (estimate.status, estimate.body["total"], estimate.body["valid"]) == (200, MAX_RECIPIENTS, MAX_RECIPIENTS)
    retry = world.call(route, world.body(route), headers={"Idempotency-Key": "big-send"})
    assert retry.status == 202, retry.body


def test_ten_thousand_and_one_winners_are_refused_and_ten_thousand_accepted(world: World) -> None:
    route = ROUTES["winners"]
    winners = [{"name": f"w{i}", "phone": f"010-4000-{i % 10_000:04d}"} for i in range(MAX_RECIPIENTS + 1)]
    before = world.stored()
    reply = world.call(route, {"winners": winners})
    assert_error(reply, 422, "VALIDATION_ERROR")
    assert ["body", "winners"] in _locs(reply)
    assert world.stored() == before
    assert world.client.get(f"/promotions/{world.promotion_id}/winners").body["items"] == []
    accepted = world.call(route, {"winners": winners[:MAX_RECIPIENTS]})
    assert (accepted.status, accepted.body) == (202, {"accepted": MAX_RECIPIENTS})


# -- unicode ----------------------------------------------------------------------------------------------------

# The rules a text can be under: "plain" (names, gift title and content: no emoji, no control characters but line
# breaks and tabs), "sms" (EUC-KR and no control characters), "email" (content: any Unicode but control
# characters), "subject" (email title: as email, and one line). Each sample names the rules that accept it.
EVERY_RULE = frozenset({"plain", "sms", "email", "subject"})
BEYOND_EUC_KR = EVERY_RULE - {"sms"}
NOT_ONE_LINE = EVERY_RULE - {"subject"}
EMOJI = frozenset({"email", "subject"})
NO_RULE: frozenset[str] = frozenset()  # control characters; lone surrogates are never text
UNICODE: dict[str, tuple[str, frozenset[str]]] = {
    "combining-acute": ("cafe\u0301", BEYOND_EUC_KR),
    "hangul-jamo-sequence": ("\u1112\u1161\u11ab\u1100\u1173\u11af", BEYOND_EUC_KR),
    "hangul-syllables": ("한글", EVERY_RULE),
    "hangul-compatibility-jamo": ("ㅎㅏㄴ", EVERY_RULE),
    "arabic-rtl": ("\u0645\u0631\u062d\u0628\u0627", BEYOND_EUC_KR),
    "rtl-override": ("abc\u202edcba", BEYOND_EUC_KR),
    "zero-width-joiner": ("a\u200db", BEYOND_EUC_KR),
    "line-separator": ("a\u2028b", BEYOND_EUC_KR),
    "newline": ("a\nb", NOT_ONE_LINE),
    "nul": ("a\u0000b", NO_RULE),
    "ansi-escape": ("a\u001b[31m", NO_RULE),
    "delete": ("a\u007f", NO_RULE),
    "next-line-c1": ("a\u0085b", NO_RULE),
    "emoji-variation-selector": ("\u2764\ufe0f", EMOJI),
    "emoji-skin-tone": ("\U0001f44d\U0001f3fd", EMOJI),
    "emoji-zwj-family": ("\U0001f468\u200d\U0001f469\u200d\U0001f467", EMOJI),
    "lone-high-surrogate": ("a\ud800", NO_RULE),
    "surrogate-escaped-byte": ("a\udcff", NO_RULE),
}


@dataclass(frozen=True)
class Target:
    """Where a text goes in, how it reads back, and which rule it is under."""

    rule: str
    submit: Callable[[World, str], Reply]
    read: Callable[[World, Reply], str | None]


def _promotion_name(world: World, text: str) -> Reply:
    return world.call(ROUTES["promotions"], {"name": text})


def _account_name(world: World, text: str) -> Reply:
    return world.call(ROUTES["admin-accounts"], {"name": text})


def _read_account_name(world: World, reply: Reply) -> str | None:
    name: str | None = ApiClient(account_id=reply.body["account_id"]).get("/account").body["name"]
    return name


def _read_promotion_name(world: World, reply: Reply) -> str | None:
    promotion_id = reply.body["promotion_id"]
    listed = {p["promotion_id"]: p["name"] for p in world.client.get("/promotions").body["items"]}
    name: str | None = world.client.get(f"/promotions/{promotion_id}").body["name"]
    assert listed[promotion_id] == name
    return name


def _gift_text(world: World, text: str) -> Reply:
    """The same text as a gift send's title, content and recipient name: the three share one rule."""
    body = {
        **world.body(ROUTES["gift-sends"]),
        "title": text,
        "content": text,
        "recipients": [{"phone": "010-2222-3333", "name": text}],
    }
    return world.call(ROUTES["gift-sends"], body)


def _read_gift_text(world: World, reply: Reply) -> str | None:
    """The text if title, content and recipient name all read back alike (after the gift was issued)."""
    send_id = reply.body["send_id"]
    view = world.client.get(f"/gift-sends/{send_id}").body
    assert view["counts"]["sent"] == 1, view
    (recipient,) = world.client.get(f"/gift-sends/{send_id}/recipients").body["items"]
    assert recipient["status"] == "SENT" and recipient["coupon"], recipient
    texts = {view["title"], view["content"], recipient["name"]}
    return texts.pop() if len(texts) == 1 else repr(texts)


def _read_notification(field: str) -> Callable[[World, Reply], str | None]:
    def read(world: World, reply: Reply) -> str | None:
        send_id = reply.body["send_id"]
        (recipient,) = world.client.get(f"/notification-sends/{send_id}/recipients").body["items"]
        assert recipient["status"] == "SENT", recipient
        text: str | None = world.client.get(f"/notification-sends/{send_id}").body[field]
        return text

    return read


def _record_winner(world: World, text: str) -> Reply:
    reply = world.call(ROUTES["winners"], {"winners": [{"name": text}]})
    if reply.status == 202:
        reply.headers["x-winner-position"] = str(world.winners_recorded)  # winners list in recorded order
        world.winners_recorded += 1
    return reply


def _read_winner_name(world: World, reply: Reply) -> str | None:
    items = world.client.get(f"/promotions/{world.promotion_id}/winners").body["items"]
    name: str | None = items[int(reply.headers["x-winner-position"])]["name"]
    return name


def _notification_with(channel: str, field: str) -> Callable[[World, str], Reply]:
    def submit(world: World, text: str) -> Reply:
        address = {"email": "kim@example.com"} if channel == "email" else {"phone": "010-2222-3333"}
        body = {
            "promotion_id": world.promotion_id,
            "channel": channel,
            "recipients": [address],
            "title": "Subject" if channel == "email" else None,
            "content": "Hello",
            field: text,
        }
        return world.call(ROUTES["notification-sends"], {k: v for k, v in body.items() if v is not None})

    return submit


TARGETS: dict[str, Target] = {
    "promotion-name": Target("plain", _promotion_name, _read_promotion_name),
    "account-name": Target("plain", _account_name, _read_account_name),
    "gift-title-content-and-recipient-name": Target("plain", _gift_text, _read_gift_text),
    "winner-name": Target("plain", _record_winner, _read_winner_name),
    "sms-content": Target("sms", _notification_with("sms", "content"), _read_notification("content")),
    "email-content": Target("email", _notification_with("email", "content"), _read_notification("content")),
    "email-subject": Target("subject", _notification_with("email", "title"), _read_notification("title")),
}


@pytest.mark.parametrize("target_name", TARGETS)
def test_unicode_edge_cases_are_accepted_and_read_back_exactly_or_refused(world: World, target_name: str) -> None:
    target = TARGETS[target_name]
    problems: list[str] = []
    before = world.stored()
    for sample, (text, accepted_by) in UNICODE.items():
        if target.rule not in accepted_by:
            problems += error_problems(sample, target.submit(world, text), 422, "VALIDATION_ERROR")
    if world.stored() != before:
        problems.append("a refused text was stored")
    accepted: list[tuple[str, str, Reply]] = []
    for sample, (text, accepted_by) in UNICODE.items():
        if target.rule in accepted_by:
            reply = target.submit(world, text)
            if 200 <= reply.status < 300:
                accepted.append((sample, text, reply))
            else:
                problems.append(f"{sample}: refused ({reply.status} {reply.body})")
    world.process_queues()  # the background consumers read the accepted sends too (and deliver them)
    for sample, text, reply in accepted:
        read_back = target.read(world, reply)
        if read_back != text:
            problems.append(f"{sample}: stored {text!r}, read back {read_back!r}")
    assert not problems, "\n".join(problems)
    assert accepted and world.queued() == 0


def test_an_unescaped_lone_surrogate_in_the_raw_body_is_422(world: World) -> None:
    """A body string holding a surrogate itself (a client's surrogate-escaped bytes), not a JSON escape."""
    before = world.stored()
    for route_name, raw in [
        ("promotions", '{"name": "a\udcff"}'),
        ("charges", '{"channel": "\udcffsms", "quantity": 1}'),
    ]:
        assert_error(world.call(ROUTES[route_name], raw=raw), 422, "VALIDATION_ERROR")
    assert world.stored() == before


# Phones: a valid Korean mobile number in any spelling the parser reads becomes E.164; anything else is an
# INVALID_RECIPIENT kept as given and never charged; a lone surrogate is not text (422).
E164 = "+821055556666"
FULLWIDTH = str.maketrans({d: chr(0xFF10 + int(d)) for d in "0123456789"})
ARABIC_INDIC = str.maketrans({d: chr(0x0660 + int(d)) for d in "0123456789"})
PHONES: dict[str, tuple[str, bool]] = {  # sample -> (phone, valid)
    "fullwidth-digits": ("010-5555-6666".translate(FULLWIDTH), True),
    "arabic-indic-digits": ("01055556666".translate(ARABIC_INDIC), True),
    "rtl-override-inside": ("010\u202e55556666", False),
    "zero-width-joiner-inside": ("010\u200d5555\u200d6666", False),
    "nul-only": ("\u0000", False),
    "control-characters": ("\u0007\u001b[0m", False),
    "hangul": ("공일공", False),
    "emoji-keycap-digits": ("0\ufe0f\u20e31\ufe0f\u20e30\ufe0f\u20e3", False),
    "blank": ("", False),
}


def test_unicode_phones_are_normalized_or_invalid_recipients_and_read_back(world: World) -> None:
    credits = world.client.get("/account").body["credits"]
    before = world.stored()
    surrogate = "010\ud800"
    for route_name, body in [
        ("gift-sends", {**world.body(ROUTES["gift-sends"]), "recipients": [{"phone": surrogate}]}),
        ("winners", {"winners": [{"name": "Kim", "phone": surrogate}]}),
    ]:
        assert_error(world.call(ROUTES[route_name], body), 422, "VALIDATION_ERROR")  # a lone surrogate
    assert world.stored() == before

    samples = list(PHONES.values())
    gift = _gift(world, recipients=[{"phone": phone, "name": "Kim"} for phone, _ in samples])
    invalid = sum(1 for _, valid in samples if not valid)
    assert (gift.status, gift.body["total"], gift.body["invalid"]) == (202, len(samples), invalid), gift.body
    winners = world.call(ROUTES["winners"], {"winners": [{"name": "Kim", "phone": phone} for phone, _ in samples]})
    assert winners.status == 202, winners.body
    world.process_queues()

    recipients = world.client.get(f"/gift-sends/{gift.body['send_id']}/recipients", query={"limit": "200"})
    problems = []
    for (sample, (phone, valid)), recipient in zip(PHONES.items(), recipients.body["items"], strict=True):
        seen = (recipient["phone"], recipient["status"], recipient["failure_reason"], recipient["charged_credits"])
        expected = (E164, "SENT", None, 4_500) if valid else (phone, "FAILED", "INVALID_RECIPIENT", 0)
        if seen != expected:
            problems.append(f"{sample}: {seen} instead of {expected}")
    assert not problems, "\n".join(problems)
    valid_count = len(samples) - invalid
    assert world.client.get("/account").body["credits"] == credits - valid_count * 4_500
    # Winners read back in E.164 as recipients do (v1.1); a phone that is no Korean mobile, as given.
    listed = world.client.get(f"/promotions/{world.promotion_id}/winners").body["items"]
    assert [w["phone"] for w in listed] == [E164 if valid else phone for phone, valid in samples]


EMAILS: dict[str, tuple[str, str | None]] = {  # address -> its normalized form when valid, None when invalid
    "nul-in-local-part": ("kim\u0000@example.com", None),
    "rtl-override": ("\u202ekim@example.com", None),
    "non-ascii-local-part": ("jos\u00e9@example.com", None),  # SES cannot send to SMTPUTF8 mailboxes
    "zero-width-space": ("kim\u200b@example.com", None),
    "emoji-local-part": ("\U0001f600@example.com", None),
    "internationalized-domain": ("kim@b\u00fccher.example", "kim@b\u00fccher.example"),
    "uppercase-domain": ("Kim@EXAMPLE.com", "Kim@example.com"),
}


def test_unicode_emails_are_normalized_or_invalid_recipients_and_read_back(world: World) -> None:
    reply = world.call(
        ROUTES["notification-sends"],
        {
            "promotion_id": world.promotion_id,
            "channel": "email",
            "title": "You won",
            "content": "Hi",
            "recipients": [{"email": address} for address, _ in EMAILS.values()],
        },
    )
    invalid = sum(1 for _, normalized in EMAILS.values() if normalized is None)
    assert (reply.status, reply.body["invalid"]) == (202, invalid), reply.body
    world.process_queues()
    recipients = world.client.get(f"/notification-sends/{reply.body['send_id']}/recipients").body["items"]
    problems = []
    for (sample, (address, normalized)), recipient in zip(EMAILS.items(), recipients, strict=True):
        seen = (recipient["email"], recipient["status"], recipient["failure_reason"], recipient["resendable"])
        expected = (normalized, "SENT", None, False) if normalized else (address, "FAILED", "INVALID_RECIPIENT", False)
        if seen != expected:
            problems.append(f"{sample}: {seen} instead of {expected}")
    assert not problems, "\n".join(problems)
    sent = len(EMAILS) - invalid
    assert world.client.get("/account").body["notification_balance"]["email"] == COUNTS - sent  # invalid: no count


UNREADABLE_ADDRESSES: list[tuple[str, str, dict[str, str], str]] = [
    ("email-lone-surrogate", "email", {"email": "kim\ud800@example.com"}, "email"),
    ("email-blank", "email", {"email": " "}, "email"),
    ("email-without-email", "email", {"phone": "010-2222-3333"}, "email"),
    ("phone-lone-surrogate", "sms", {"phone": "\ud800"}, "phone"),
    ("phone-blank", "sms", {"phone": " "}, "phone"),
    ("sms-without-phone", "sms", {"email": "kim@example.com"}, "phone"),
]


def test_unreadable_or_missing_notification_addresses_are_422_naming_the_recipient(world: World) -> None:
    before = world.stored()
    problems: list[str] = []
    for case, channel, recipient, field in UNREADABLE_ADDRESSES:
        body = {"promotion_id": world.promotion_id, "channel": channel, "content": "Hi", "recipients": [recipient]}
        reply = world.call(ROUTES["notification-sends"], body | ({"title": "Hi"} if channel == "email" else {}))
        problems += error_problems(case, reply, 422, "VALIDATION_ERROR")
        if reply.status == 422 and not any(loc[:4] == ["body", "recipients", 0, field] for loc in _locs(reply)):
            problems.append(f"{case}: no detail at recipients[0].{field}: {reply.body}")
    assert not problems, "\n".join(problems)
    assert world.stored() == before
