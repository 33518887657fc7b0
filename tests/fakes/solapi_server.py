"""A fake Solapi message API v4 on 127.0.0.1: the wire protocol shared.adapters.solapi documents (with its sources),
for integration tests and for an end-to-end run of the deployed stack.

Authentication as Solapi documents it: ``Authorization: HMAC-SHA256 apiKey=, date=, salt=, signature=`` with the
signature the hex HMAC-SHA256 of date+salt under the secret; an unknown key is 403 InvalidAPIKey, a wrong signature
403 SignatureDoesNotMatch, a date more than 15 minutes off 403 RequestTimeTooSkewed, a signature seen in the last
15 minutes 403 DuplicatedSignature, a salt outside 12-64 bytes or a missing or unreadable header 401 Unauthorized
(that status is not documented).

Groups: create (``POST /messages/v4/groups``), add (``PUT .../{groupId}/messages``: at most 10,000 per request,
413 RecipientsTooMany; intake per message: 1010 a field missing, 1025 a type other than SMS/LMS, 1013 a subject on
an SMS, 1014 a subject over 40 bytes, 1029 text outside EUC-KR, 1031 text over 90 (SMS) or 2,000 (LMS) bytes, 1032
a bad custom field, 1062 a sender number not registered, 1026 a repeated number unless ``allowDuplicates``, else
2000), send (``POST .../send``: 409 GroupInProcessing or AlreadySent once sent), the group (``GET .../{groupId}``),
its messages (``GET .../{groupId}/messages?startKey=&limit=``, pages in the order added, ``nextKey`` the first id of
the next page, limit 1-500, default 20).

After the send, an accepted message is at the carrier (3000) and becomes final ``delivery_seconds`` later (on the
fake's clock, which ``advance`` moves): numbers ending 7777 -> 3032 (not a subscriber), 0000 -> 3010 (number
malformed: Solapi documents no intake code for a number that does not exist), 6666 -> 3043 (handset off), 5555 ->
stays 3000 (never reported), any other -> 4000. ``intake_codes`` maps a number's last four digits to an intake code.

Faults, per endpoint (``create``, ``add``, ``send``, ``group``, ``list``): ``fail_next`` answers a status without
doing the work, ``slow_next`` does the work and holds the answer, ``drop_next`` does the work and closes the
connection without answering. ``calls`` counts the requests per endpoint; ``requests`` records them all.

Standalone: ``python -m tests.fakes.solapi_server --port 8123`` prints its URL and serves until interrupted. Its
controls over HTTP (loopback only, no auth): ``GET /_fake/calls`` answers ``{"calls": {endpoint: count}}``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
import secrets
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Unpack
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes import base
from tests.fakes.base import Control, LoopbackFake, Reply, json_object, json_reply

API_KEY = "NCSFAKEAPIKEY0001"
API_SECRET = "FAKESECRET0123456789ABCDEFGHIJKLMNOP"
SENDER_NUMBER = "0212345678"

_SKEW = timedelta(minutes=15)
_MAX_PER_ADD = 10_000
_LIMITS = {"SMS": 90, "LMS": 2_000}
_SUBJECT_MAX_BYTES = 40
_FINAL_BY_SUFFIX = {"7777": "3032", "0000": "3010", "6666": "3043"}
_NEVER_FINAL_SUFFIX = "5555"
_STATUS_MESSAGES = {
    "2000": "정상 접수(이통사로 접수 예정) ",
    "3000": "이통사로 접수(리포트를 기다리는 중)",
    "4000": "발송 처리 완료",
    "3032": "미가입자",
    "3010": "수신번호 형식 오류",
    "3043": "단말기 Power off",
}
_AUTH = re.compile(r"^HMAC-SHA256 (?P<params>.+)$")
_GROUP_PATH = re.compile(r"^/messages/v4/groups/(?P<group>[^/]+)(?P<rest>/messages|/send)?$")


def _error(status: int, code: str, message: str = "") -> Reply:
    return json_reply(status, {"errorCode": code, "errorMessage": message or code})


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class FakeMessage:
    message_id: str
    group_id: str
    to: str
    sender: str
    text: str
    type: str
    subject: str | None
    custom_fields: dict[str, str]
    intake_code: str
    created_at: datetime
    sent_at: datetime | None = None

    def status_code(self, now: datetime, delivery: timedelta) -> str:
        if self.intake_code != "2000" or self.sent_at is None:
            return self.intake_code
        if self.to.endswith(_NEVER_FINAL_SUFFIX) or now - self.sent_at < delivery:
            return "3000"
        return _FINAL_BY_SUFFIX.get(self.to[-4:], "4000")

    def view(self, now: datetime, delivery: timedelta) -> dict[str, Any]:
        code = self.status_code(now, delivery)
        final = code not in ("2000", "3000") and self.sent_at is not None
        reported = _iso(self.sent_at + delivery) if final and self.sent_at else None
        return {
            "_id": self.message_id,
            "messageId": self.message_id,
            "groupId": self.group_id,
            "type": self.type,
            "country": "82",
            "to": self.to,
            "from": self.sender,
            "text": self.text,
            "subject": self.subject,
            "statusCode": code,
            "statusMessage": _STATUS_MESSAGES.get(code, ""),
            "customFields": self.custom_fields,
            "dateCreated": _iso(self.created_at),
            "dateUpdated": reported or _iso(self.created_at),
            "dateProcessed": _iso(self.sent_at) if self.sent_at else None,
            "dateReported": reported,
            "dateReceived": reported,
        }


@dataclass
class FakeGroup:
    group_id: str
    allow_duplicates: bool
    created_at: datetime
    status: str = "PENDING"
    sent_at: datetime | None = None
    messages: list[FakeMessage] = field(default_factory=list)


class FakeSolapiServer(LoopbackFake):
    """Start with ``with FakeSolapiServer() as solapi:``; ``solapi.url`` is the endpoint."""

    thread_name = "fake-solapi"

    def __init__(
        self,
        api_key: str = API_KEY,
        api_secret: str = API_SECRET,
        *,
        senders: tuple[str, ...] = (SENDER_NUMBER,),
        delivery_seconds: float = 60.0,
        **address: Unpack[base.Address],
    ) -> None:
        super().__init__(**address)
        self.api_key = api_key
        self.api_secret = api_secret
        self.senders = set(senders)
        self.delivery = timedelta(seconds=delivery_seconds)
        self.intake_codes: dict[str, str] = {}  # last four digits -> intake status code
        self._offset = timedelta()
        self._groups: dict[str, FakeGroup] = {}
        self._signatures: dict[str, datetime] = {}
        self._calls: Counter[str] = Counter()
        self._faults: dict[str, deque[tuple[str, float, int]]] = {}

    # -- test controls and inspection --------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Moves the fake's clock for message progress (not for the signature's date window)."""
        with self._lock:
            self._offset += timedelta(seconds=seconds)

    def fail_next(self, endpoint: str, status: int = 503, code: str = "ServiceUnavailable") -> None:
        self._fault(endpoint, (f"fail:{code}", 0.0, status))

    def slow_next(self, endpoint: str, seconds: float) -> None:
        self._fault(endpoint, ("slow", seconds, 0))

    def drop_next(self, endpoint: str) -> None:
        self._fault(endpoint, ("drop", 0.0, 0))

    def calls(self, endpoint: str | None = None) -> int:
        with self._lock:
            return self._calls[endpoint] if endpoint else sum(self._calls.values())

    @property
    def groups(self) -> list[FakeGroup]:
        with self._lock:
            return list(self._groups.values())

    def sent_messages(self) -> list[FakeMessage]:
        """The messages actually handed to carriers (accepted at intake, in a sent group)."""
        with self._lock:
            return [m for g in self._groups.values() for m in g.messages if m.sent_at is not None]

    def _fault(self, endpoint: str, fault: tuple[str, float, int]) -> None:
        with self._lock:
            self._faults.setdefault(endpoint, deque()).append(fault)

    # -- request handling --------------------------------------------------------------------------------------

    def answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        parts = urlsplit(target)
        endpoint, route = self._route(method, parts.path)
        if endpoint:
            self._calls[endpoint] += 1
        refusal = self._authenticate(headers.get("authorization"))
        if refusal is not None:
            return refusal
        faults = self._faults.get(endpoint or "")
        fault = faults.popleft() if faults else None
        if fault is not None and fault[0].startswith("fail:"):
            return _error(fault[2], fault[0].removeprefix("fail:"))
        reply = route(parts.path, parse_qs(parts.query), body) if route else _error(404, "NotFound")
        if fault is not None and fault[0] == "drop":
            return dataclasses.replace(reply, lost=True)
        return dataclasses.replace(reply, hang_seconds=fault[1]) if fault is not None else reply

    def controls(self) -> dict[tuple[str, str], Control]:
        return {("GET", "calls"): self._calls_control}

    def _calls_control(self, request: dict[str, Any]) -> Reply:
        with self._lock:
            return json_reply(200, {"calls": dict(self._calls)})

    def _route(self, method: str, path: str) -> tuple[str | None, Any]:
        if path.rstrip("/") == "/messages/v4/groups":
            return ("create", self._create) if method == "POST" else (None, None)
        match = _GROUP_PATH.match(path)
        if not match:
            return None, None
        rest = match["rest"]
        table = {
            (None, "GET"): ("group", self._group),
            ("/messages", "PUT"): ("add", self._add),
            ("/messages", "GET"): ("list", self._list),
            ("/send", "POST"): ("send", self._send),
        }
        return table.get((rest, method), (None, None))

    def _now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def _authenticate(self, header: str | None) -> Reply | None:
        match = _AUTH.match(header or "")
        if not match:
            return _error(401, "Unauthorized", "missing or unreadable Authorization")
        params: dict[str, str] = {}
        for part in match["params"].split(","):
            name, _, value = part.strip().partition("=")
            params[name.lower()] = value
        key, date, salt, signature = (params.get(k, "") for k in ("apikey", "date", "salt", "signature"))
        if key != self.api_key:
            return _error(403, "InvalidAPIKey")
        if not 12 <= len(salt.encode()) <= 64:
            return _error(401, "Unauthorized", "salt must be 12-64 bytes")
        expected = hmac.new(self.api_secret.encode(), (date + salt).encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return _error(403, "SignatureDoesNotMatch")
        try:
            signed_at = datetime.fromisoformat(date)
        except ValueError:
            return _error(403, "RequestTimeTooSkewed")
        wall = datetime.now(UTC)
        if signed_at.tzinfo is None or abs(wall - signed_at) > _SKEW:
            return _error(403, "RequestTimeTooSkewed")
        self._signatures = {s: t for s, t in self._signatures.items() if wall - t <= _SKEW}
        if signature in self._signatures:
            return _error(403, "DuplicatedSignature")
        self._signatures[signature] = wall
        return None

    def _create(self, path: str, query: dict[str, list[str]], body: bytes) -> Reply:
        request = json_object(body) or {}
        now = self._now()
        group_id = f"G4V{now:%Y%m%d%H%M%S}{secrets.token_hex(8).upper()[:15]}"
        group = FakeGroup(group_id, bool(request.get("allowDuplicates")), now)
        self._groups[group_id] = group
        return json_reply(200, self._group_view(group))

    def _group(self, path: str, query: dict[str, list[str]], body: bytes) -> Reply:
        group = self._find(path)
        return json_reply(200, self._group_view(group)) if group else _error(404, "ResourceNotFound")

    def _add(self, path: str, query: dict[str, list[str]], body: bytes) -> Reply:
        group = self._find(path)
        if group is None:
            return _error(404, "ResourceNotFound")
        if group.status != "PENDING":
            return _error(400, "InvalidGroupStatus")
        request = json_object(body)
        messages = request.get("messages") if request else None
        if not isinstance(messages, list):
            return _error(400, "ValidationError", "messages must be an array")
        if len(messages) > _MAX_PER_ADD:
            return _error(413, "RecipientsTooMany")
        results = []
        for given in messages:
            message = self._intake(group, given if isinstance(given, dict) else {})
            group.messages.append(message)
            results.append(
                {
                    "to": message.to,
                    "from": message.sender,
                    "type": message.type,
                    "country": "82",
                    "messageId": message.message_id,
                    "statusCode": message.intake_code,
                    "statusMessage": _STATUS_MESSAGES.get(message.intake_code, ""),
                    "accountId": "12925149",
                    "customFields": message.custom_fields,
                }
            )
        return json_reply(200, {"errorCount": sum(r["statusCode"] != "2000" for r in results), "resultList": results})

    def _intake(self, group: FakeGroup, given: dict[str, Any]) -> FakeMessage:
        to, sender, text = given.get("to"), given.get("from"), given.get("text")
        kind, subject, custom = str(given.get("type") or "SMS").upper(), given.get("subject"), given.get("customFields")
        code = "2000"
        if not (isinstance(to, str) and to and isinstance(sender, str) and sender and isinstance(text, str) and text):
            code = "1010"
        elif kind not in _LIMITS:
            code = "1025"
        elif subject is not None and kind == "SMS":
            code = "1013"
        elif custom is not None and not _valid_custom_fields(custom):
            code = "1032"
        elif sender not in self.senders:
            code = "1062"
        else:
            try:
                if subject is not None and len(str(subject).encode("euc-kr")) > _SUBJECT_MAX_BYTES:
                    code = "1014"
                elif len(text.encode("euc-kr")) > _LIMITS[kind]:
                    code = "1031"
            except UnicodeEncodeError:
                code = "1029"
        if code == "2000":
            code = self.intake_codes.get(str(to)[-4:], code)
        if code == "2000" and not group.allow_duplicates and any(m.to == to for m in group.messages):
            code = "1026"
        return FakeMessage(
            message_id=f"M4V{self._now():%Y%m%d%H%M%S}{secrets.token_hex(8).upper()[:15]}",
            group_id=group.group_id,
            to=str(to or ""),
            sender=str(sender or ""),
            text=str(text or ""),
            type=kind,
            subject=subject if isinstance(subject, str) else None,
            custom_fields=dict(custom) if isinstance(custom, dict) else {},
            intake_code=code,
            created_at=self._now(),
        )

    def _send(self, path: str, query: dict[str, list[str]], body: bytes) -> Reply:
        group = self._find(path)
        if group is None:
            return _error(404, "ResourceNotFound")
        self._settle(group)
        if group.status == "SENDING":
            return _error(409, "GroupInProcessing")
        if group.status == "COMPLETE":
            return _error(409, "AlreadySent")
        if group.status != "PENDING":
            return _error(400, "InvalidStatus")
        now = self._now()
        group.status, group.sent_at = "SENDING", now
        for message in group.messages:
            if message.intake_code == "2000":
                message.sent_at = now
        return json_reply(200, self._group_view(group))

    def _list(self, path: str, query: dict[str, list[str]], body: bytes) -> Reply:
        group = self._find(path.removesuffix("/messages"))
        if group is None:
            return _error(404, "ResourceNotFound")
        try:
            limit = int(query.get("limit", ["20"])[0])
        except ValueError:
            limit = 0
        if not 1 <= limit <= 500:
            return _error(400, "ValidationError", "limit must be 1-500")
        start_key = query.get("startKey", [None])[0]
        ids = [m.message_id for m in group.messages]
        start = ids.index(start_key) if start_key in ids else 0
        page = group.messages[start : start + limit]
        following = group.messages[start + limit : start + limit + 1]
        now = self._now()
        return json_reply(
            200,
            {
                "startKey": start_key,
                "nextKey": following[0].message_id if following else None,
                "limit": limit,
                "messageList": {m.message_id: m.view(now, self.delivery) for m in page},
            },
        )

    def _find(self, path: str) -> FakeGroup | None:
        match = _GROUP_PATH.match(path)
        return self._groups.get(unquote(match["group"])) if match else None

    def _settle(self, group: FakeGroup) -> None:
        now = self._now()
        if group.status == "SENDING" and all(
            m.status_code(now, self.delivery) not in ("3000",) for m in group.messages if m.sent_at
        ):
            group.status = "COMPLETE"

    def _group_view(self, group: FakeGroup) -> dict[str, Any]:
        self._settle(group)
        accepted = sum(m.intake_code == "2000" for m in group.messages)
        return {
            "_id": group.group_id,
            "groupId": group.group_id,
            "status": group.status,
            "allowDuplicates": group.allow_duplicates,
            "count": {
                "total": len(group.messages),
                "registeredSuccess": accepted,
                "registeredFailed": len(group.messages) - accepted,
            },
            "dateCreated": _iso(group.created_at),
            "dateSent": _iso(group.sent_at) if group.sent_at else None,
        }


def _valid_custom_fields(custom: Any) -> bool:
    return isinstance(custom, dict) and all(
        isinstance(k, str) and len(k) <= 30 and isinstance(v, str) and len(v) <= 100 for k, v in custom.items()
    )


def main() -> None:
    parser = base.standalone_arguments("A fake Solapi message API v4 on 127.0.0.1")
    parser.add_argument("--api-key", default=API_KEY)
    parser.add_argument("--api-secret", default=API_SECRET)
    parser.add_argument("--sender", action="append", help=f"registered sender number (default {SENDER_NUMBER})")
    parser.add_argument("--delivery-seconds", type=float, default=20.0)
    args = parser.parse_args()
    fake = FakeSolapiServer(
        args.api_key,
        args.api_secret,
        senders=tuple(args.sender or [SENDER_NUMBER]),
        delivery_seconds=args.delivery_seconds,
        host=args.host,
        port=args.port,
    )
    fake.limit_rate(args.requests_per_second)
    base.serve_standalone(fake)


if __name__ == "__main__":
    main()
