"""SMS and LMS through Solapi's message API v4: one message group per batch, results read back from the group,
and delivery reports read from the group's message list on a schedule.

Wire protocol (JSON over HTTPS, ``https://api.solapi.com``), each fact with where it was read:

- Authentication: ``Authorization: HMAC-SHA256 apiKey=<key>, date=<ISO 8601>, salt=<12-64 random bytes>,
  signature=<hex HMAC-SHA256 of date+salt keyed with the API secret>``. A date more than 15 minutes off is refused
  (403 RequestTimeTooSkewed), so is a signature used twice within 15 minutes (403 DuplicatedSignature), a wrong key
  (403 InvalidAPIKey) or signature (403 SignatureDoesNotMatch). Sources: solapi/documents
  ``authentication/api-key.md``; solapi/solapi-nodejs ``src/lib/authenticator.ts`` (same header, 32-character
  salt); solapi/solapi-python ``solapi/lib/authenticator.py`` (hex HMAC-SHA256 of date+salt).
- Errors: a status other than 200 carries ``{"errorCode", "errorMessage"}`` (solapi/documents
  ``api-reference/overview.md``; solapi/solapi-nodejs ``src/lib/defaultFetcher.ts``).
- ``POST /messages/v4/groups`` creates a group (``groupId``, ``status`` PENDING); body fields include
  ``allowDuplicates`` and ``customFields`` (solapi/documents ``api-reference/messages/groups/createMessageGroup.md``;
  solapi/solapi-nodejs ``src/services/messages/groupService.ts``).
- ``PUT /messages/v4/groups/{groupId}/messages`` with ``{"messages": [...]}`` adds messages: ``to``, ``from`` (a
  pre-registered sender number), ``text``, ``type`` (SMS, LMS), ``subject`` (LMS), ``customFields`` (keys up to 30
  characters, string values up to 100). At most 10,000 recipients per request (413 RecipientsTooMany), 15 MB, and
  1,000,000 messages per group. The answer is ``{"errorCount", "resultList": [{"messageId", "statusCode",
  "statusMessage", "customFields"?...}]}``, one entry per recipient; messages refused at intake are kept in the group
  but never sent. Numbers are national, digits only (``01012345678``), country ``82`` by default. Sources:
  solapi/documents ``api-reference/messages/groups/addGroupMessages.md``,
  ``api-reference/message-api-v4/undefined-1/undefined-4.md``, ``api-reference/terminology.md``; solapi/solapi-nodejs
  ``src/models/responses/messageResponses.ts`` (``addMessageResultSchema`` with optional ``customFields``). There is
  no ``failedMessageList`` here: that belongs to ``POST /messages/v4/send-many/detail``
  (solapi/solapi-python ``solapi/model/response/send_message_response.py``).
- ``POST /messages/v4/groups/{groupId}/send`` sends the messages accepted at intake. A group already sent answers
  409 GroupInProcessing or AlreadySent; one not PENDING 400 InvalidStatus; too little balance 402 NotEnoughBalance
  (solapi/documents ``api-reference/messages/groups/sendGroupMessage.md``,
  ``api-reference/message-api-v4/undefined-1/undefined-6.md``).
- ``GET /messages/v4/groups/{groupId}``: the group, with ``status`` PENDING, SENDING, DELETED, FAILED, COMPLETE or
  SCHEDULED (solapi/documents ``api-reference/messages/groups/getMessageGroupInfo.md``).
- ``GET /messages/v4/groups/{groupId}/messages?startKey=&limit=``: ``{"startKey", "nextKey", "limit",
  "messageList": {messageId: {messageId, statusCode, customFields, dateCreated, dateUpdated, dateProcessed,
  dateReported, dateReceived, ...}}}``; the next page starts at ``nextKey`` (solapi/documents
  ``api-reference/messages/groups/getGroupMessageList.md``; solapi/solapi-nodejs
  ``src/models/base/messages/storedMessage.ts`` and ``getMessagesResponseSchema``; solapi/solapi-python
  ``solapi/model/response/groups/get_group_messages.py``).
- Status codes (solapi/documents ``api-reference/message-status-codes.md``): 1xxx refused at intake (1020 account,
  1024 server error, 1026 duplicate recipient, 1030 balance, 1060 blocked recipient, 1061 opted out, 1062 sender
  number not registered, ...); 2000 accepted, waiting for the carrier; 2xxx platform errors; 3000 at the carrier,
  waiting for its report; 3xxx carrier failures (3010 recipient number malformed, 3032 not a subscriber, 3043
  handset off, ...); 4000 delivered.
- Webhooks: Solapi can POST message and group reports to a URL, retried up to 5 times until it answers 200
  (solapi/solapi-nodejs ``examples/javascript/webhooks/index.js``; solapi/solapi-python
  ``examples/webhook/django_example``, ``solapi/model/webhook/single_report.py``). Neither SDK nor the documents
  show any way to authenticate the caller (no signature header, no shared secret), so no webhook route is built:
  reports are read with the authenticated message list instead.

Not confirmed anywhere public (so the adapter does not depend on it, or says so): the largest ``limit`` of the
message list (``page_size`` is configurable, 200 by default); whether ``startKey`` is inclusive (pages are merged by
message id); whether messages can be added to a group once sent (the adapter never tries); which of
``dateReceived``/``dateReported`` is the handset's time (the first present of dateReceived, dateReported,
dateUpdated is used); how long a carrier keeps retrying (see the report cutoff below); whether ``customFields``
always come back in add results (results are matched by position when they do not).

No double delivery: Solapi takes no idempotency key, so the adapter keeps one DynamoDB item per batch
(``SOLAPI#GROUP#{batch_key}`` / ``GROUP``) naming the batch's group, won by a conditional put; each message carries
its recipient attempt key in ``customFields.attempt``. A retry of the batch reads the group back, adds only the
messages it lacks (or that intake refused for a reason a retry may fix), and sends the group only while it is still
PENDING (the provider itself refuses a second send with 409). A first call makes exactly three requests: create,
add, send. A group created by a call that then lost the put stays empty and PENDING: it is never sent.

Reports: before sending, the item joins a sparse index (``gsi2pk`` = ``SOLAPI_REPORTS``, ``gsi2sk`` = next check
time). ``SolapiReportSource.poll`` reads each due group's messages, publishes the final ones not yet reported,
records them in the item (a crash in between publishes them again, which is harmless), and drops the group from the
index once every accepted message is final. After ``report_cutoff`` (72 hours after sending) messages still not
final are reported UNDELIVERED: the count goes back to the business and the recipient can be resent, rather than
holding it SENT forever (carriers retry a handset that is off for well under that; not confirmed for Solapi).

Nothing here logs or puts into exception messages phone numbers, message text, the API key or secret, or bodies;
only operation names, HTTP statuses, error and status codes, group ids and counts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, Final, TypeVar
from urllib.parse import quote, urlencode, urlsplit

import botocore.exceptions
import urllib3
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError
from pydantic.alias_generators import to_camel

from shared.adapters.rate_limit import TokenBucket, retry_after_seconds
from shared.domain.clock import to_rfc3339, utc_now
from shared.domain.notifications.sender import MessageResult, MessageStatus, NotificationMessage
from shared.errors import ProviderRejected, ProviderUnavailable
from shared.models.reports import DeliveryReport, ReportOutcome

logger = logging.getLogger(__name__)
ModelT = TypeVar("ModelT", bound=BaseModel)

PROVIDER = "solapi"
DEFAULT_ENDPOINT = "https://api.solapi.com"
ATTEMPT_FIELD: Final = "attempt"  # the customFields key that carries the recipient attempt's key
REPORT_INDEX: Final = "SOLAPI_REPORTS"  # gsi2pk of the groups whose reports are still awaited

_MAX_ADD = 10_000  # recipients per add-messages request
_CUSTOM_VALUE_MAX = 100
_POOL_MAXSIZE = 16
_USER_AGENT = "win-notifications/1.0"
_TYPES = {"sms": "SMS", "lms": "LMS"}

PENDING = "PENDING"
_DEAD_GROUP_STATUSES = frozenset({"DELETED", "FAILED"})
_ALREADY_SENT_CODES = frozenset({"GroupInProcessing", "AlreadySent"})

ACCEPTED_CODE = "2000"
DELIVERED_CODE = "4000"
_IN_FLIGHT_CODES = frozenset({ACCEPTED_CODE, "3000"})
_RECIPIENT_NOT_FOUND_CODES = frozenset({"3010", "3032"})  # number malformed; not a subscriber
# Intake refusals that concern the account, not the message: the whole batch is refused (a misconfiguration).
_ACCOUNT_CODES = frozenset({"1020", "1030", "1062"})  # account or password; balance; sender number not registered
_INTAKE_RETRY_CODES = frozenset({"1024"})  # a server error at intake


def _intake_refused(code: str | None) -> bool:
    return code is not None and len(code) == 4 and code.startswith("1")


def _readdable(code: str | None) -> bool:
    """A message intake refused may be added again when the cause can go away (it was never sent)."""
    return code in _INTAKE_RETRY_CODES or code in _ACCOUNT_CODES


def report_outcome(code: str | None) -> ReportOutcome | None:
    """The final outcome a status code means, or None while the message is still on its way (or was never sent)."""
    if code == DELIVERED_CODE:
        return "DELIVERED"
    if code is None or code in _IN_FLIGHT_CODES or not (len(code) == 4 and code.isdigit()) or _intake_refused(code):
        return None
    if code in _RECIPIENT_NOT_FOUND_CODES:
        return "RECIPIENT_NOT_FOUND"
    if code[0] in "23":
        return "UNDELIVERED"
    return None


# -- wire models --------------------------------------------------------------------------------------------------


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, alias_generator=to_camel)


class SolapiCredentials(BaseModel):
    """The Secrets Manager secret: ``{"api_key": "...", "api_secret": "..."}``."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    api_key: str = Field(min_length=1)
    api_secret: SecretStr = Field(min_length=1)


class GroupInfo(_Wire):
    group_id: str = Field(min_length=1)
    status: str = ""


class MessageRecord(_Wire):
    """One message as Solapi answers for it (an add result or an entry of the message list)."""

    message_id: str | None = None
    status_code: str | None = None
    custom_fields: dict[str, Any] | None = None
    date_updated: str | None = None
    date_reported: str | None = None
    date_received: str | None = None

    @property
    def attempt(self) -> str | None:
        value = (self.custom_fields or {}).get(ATTEMPT_FIELD)
        return value if isinstance(value, str) and value else None

    @property
    def intake_refused(self) -> bool:
        return _intake_refused(self.status_code)

    def occurred_at(self, default: datetime) -> datetime:
        for value in (self.date_received, self.date_reported, self.date_updated):
            if value:
                try:
                    moment = datetime.fromisoformat(value)
                except ValueError:
                    continue
                return moment if moment.tzinfo else moment.replace(tzinfo=default.tzinfo)
        return default


class _AddAnswer(_Wire):
    result_list: list[MessageRecord]


class _MessagePage(_Wire):
    next_key: str | None = None
    message_list: dict[str, MessageRecord] = Field(default_factory=dict)


def authorization(api_key: str, api_secret: str, *, date: str, salt: str) -> str:
    """The HMAC-SHA256 ``Authorization`` value for one request."""
    signature = hmac.new(api_secret.encode(), (date + salt).encode(), hashlib.sha256).hexdigest()
    return f"HMAC-SHA256 apiKey={api_key}, date={date}, salt={salt}, signature={signature}"


# -- HTTP ---------------------------------------------------------------------------------------------------------


class SolapiApi:
    """The five group calls, one HTTP attempt each (urllib3 ``retries=False``, no redirects), a fresh salt per
    request. Failures: connection errors, timeouts, 408, 429, 5xx, an unreadable 2xx and DuplicatedSignature are
    ProviderUnavailable (may work later; a 429 carries its ``Retry-After``); 401, 402, 403 and other 4xx are
    ProviderRejected. Every request first takes a token from ``limiter``, this instance's share of
    SmsProviderRequestsPerSecond (Solapi documents no request rate limit; see docs/providers.md)."""

    def __init__(
        self,
        endpoint: str,
        credentials: SolapiCredentials,
        *,
        timeout_seconds: float = 5.0,
        page_size: int = 200,
        http: urllib3.PoolManager | None = None,
        limiter: TokenBucket | None = None,
    ) -> None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("Solapi endpoint must be an absolute http(s) URL")
        if timeout_seconds <= 0:
            raise ValueError("timeout_seconds must be positive")
        if page_size < 1:
            raise ValueError("page_size must be positive")
        self.endpoint = endpoint.rstrip("/")
        self._credentials = credentials
        self._page_size = page_size
        self._timeout = urllib3.Timeout(total=timeout_seconds)
        self._http = http or urllib3.PoolManager(maxsize=_POOL_MAXSIZE, retries=False, timeout=self._timeout)
        self._limiter = limiter
        self._retry_after = threading.local()  # the last 429's Retry-After, per thread

    def __repr__(self) -> str:
        return f"SolapiApi(endpoint={self.endpoint!r})"

    def create_group(self) -> str:
        # Two winners may share a phone: each attempt is its own message (duplicates are caught by attempt key).
        answer = self._ok("create group", "POST", "/messages/v4/groups", payload={"allowDuplicates": True})
        return self._parse("create group", GroupInfo, answer).group_id

    def add_messages(self, group_id: str, messages: Sequence[dict[str, Any]]) -> list[MessageRecord]:
        """Adds the messages; returns their intake results in the order given, each with its ``attempt``."""
        results: list[MessageRecord] = []
        for start in range(0, len(messages), _MAX_ADD):
            chunk = messages[start : start + _MAX_ADD]
            path = f"/messages/v4/groups/{quote(group_id, safe='')}/messages"
            answer = self._parse("add messages", _AddAnswer, self._ok("add messages", "PUT", path, {"messages": chunk}))
            if len(answer.result_list) != len(chunk):
                raise self._unavailable("add messages", 200, None, "result count differs from the request")
            for sent, result in zip(chunk, answer.result_list, strict=True):
                attempt = sent["customFields"][ATTEMPT_FIELD]
                if result.attempt not in (None, attempt):
                    raise self._unavailable("add messages", 200, None, "results out of order")
                results.append(result.model_copy(update={"custom_fields": {ATTEMPT_FIELD: attempt}}))
        return results

    def send_group(self, group_id: str) -> bool:
        """Sends the group; False when Solapi says it was sent already (a retry after a lost answer)."""
        path = f"/messages/v4/groups/{quote(group_id, safe='')}/send"
        status, answer = self._call("send group", "POST", path)
        if status == 200:
            return True
        code = _error_code(answer)
        if status == 409 and code in _ALREADY_SENT_CODES:
            return False
        if status == 400 and code == "InvalidStatus":  # a concurrent send moved it on: the next read tells
            raise self._unavailable("send group", status, code)
        raise self._failure("send group", status, answer)

    def group(self, group_id: str) -> GroupInfo:
        answer = self._ok("get group", "GET", f"/messages/v4/groups/{quote(group_id, safe='')}")
        return self._parse("get group", GroupInfo, answer)

    def group_messages(self, group_id: str) -> list[MessageRecord]:
        """Every message of the group, page by page (merged by message id, so an inclusive start key is harmless)."""
        merged: dict[str, MessageRecord] = {}
        start_key: str | None = None
        seen_keys: set[str] = set()
        while True:
            query = {"limit": str(self._page_size)} | ({"startKey": start_key} if start_key else {})
            path = f"/messages/v4/groups/{quote(group_id, safe='')}/messages?{urlencode(query)}"
            page = self._parse("list messages", _MessagePage, self._ok("list messages", "GET", path))
            for message_id, record in page.message_list.items():
                merged[record.message_id or message_id] = record
            if not page.next_key or page.next_key in seen_keys:
                return list(merged.values())
            seen_keys.add(page.next_key)
            start_key = page.next_key

    # -- one request --------------------------------------------------------------------------------------------

    def _ok(self, operation: str, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        status, answer = self._call(operation, method, path, payload)
        if status != 200:
            raise self._failure(operation, status, answer)
        return answer

    def _call(self, operation: str, method: str, path: str, payload: dict[str, Any] | None = None) -> tuple[int, Any]:
        if self._limiter is not None:
            self._limiter.acquire()
        date = to_rfc3339(utc_now())
        headers = {
            "Authorization": authorization(
                self._credentials.api_key,
                self._credentials.api_secret.get_secret_value(),
                date=date,
                salt=secrets.token_hex(16),
            ),
            "Accept": "application/json",
            "User-Agent": _USER_AGENT,
        }
        body = None
        if payload is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        try:
            response = self._http.request(
                method,
                f"{self.endpoint}{path}",
                body=body,
                headers=headers,
                timeout=self._timeout,
                retries=False,
                redirect=False,
            )
        except urllib3.exceptions.HTTPError as exc:
            logger.warning("Solapi unreachable", extra={"operation": operation, "error": type(exc).__name__})
            raise ProviderUnavailable(f"Solapi {operation}: {type(exc).__name__}") from exc
        if response.status == 429:
            self._retry_after.seconds = retry_after_seconds(response.headers.get("Retry-After"))
        return response.status, _json(response.data)

    def _parse(self, operation: str, model: type[ModelT], answer: Any) -> ModelT:
        try:
            return model.model_validate(answer)
        except ValidationError as exc:  # a 200 we cannot read may still have taken effect: retry reads back
            raise self._unavailable(operation, 200, None, "unreadable answer") from exc

    def _failure(self, operation: str, status: int, answer: Any) -> ProviderUnavailable | ProviderRejected:
        code = _error_code(answer)
        if status == 429:
            retry_after = getattr(self._retry_after, "seconds", None)
            logger.warning("Solapi throttled the call", extra={"operation": operation, "retry_after": retry_after})
            return ProviderUnavailable(f"Solapi {operation}: HTTP 429 {code or ''}".rstrip(), retry_after=retry_after)
        if status in (408, 429) or status >= 500 or 200 <= status < 300 or code == "DuplicatedSignature":
            return self._unavailable(operation, status, code)
        logger.error("Solapi refused the call", extra={"operation": operation, "status": status, "code": code})
        return ProviderRejected(f"Solapi {operation}: HTTP {status} {code or ''}".rstrip(), status=status, code=code)

    @staticmethod
    def _unavailable(operation: str, status: int, code: str | None, detail: str | None = None) -> ProviderUnavailable:
        logger.warning(
            "Solapi unavailable", extra={"operation": operation, "status": status, "code": code, "detail": detail}
        )
        reason = detail or f"HTTP {status} {code or ''}".rstrip()
        return ProviderUnavailable(f"Solapi {operation}: {reason}")


def _json(data: bytes) -> Any:
    try:
        return json.loads(data) if data else None
    except ValueError:
        return None


def _error_code(answer: Any) -> str | None:
    code = answer.get("errorCode") if isinstance(answer, dict) else None
    return code if isinstance(code, str) else None


# -- the batch's tracking item ------------------------------------------------------------------------------------


class GroupTracking(BaseModel):
    """What the adapter remembers of one batch's group (never a phone number or text)."""

    model_config = ConfigDict(frozen=True)

    batch_key: str
    group_id: str
    watched_at: datetime | None = None  # when it joined the report index (just before the send)
    checks: int = 0
    reported: frozenset[str] = frozenset()
    finished: bool = False

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> GroupTracking:
        return cls(
            batch_key=item["batch_key"]["S"],
            group_id=item["group_id"]["S"],
            watched_at=item["watched_at"]["S"] if "watched_at" in item else None,
            checks=int(item.get("checks", {}).get("N", 0)),
            reported=frozenset(item.get("reported", {}).get("SS", [])),
            finished="finished_at" in item,
        )


class GroupTrackingStore:
    """The tracking items, in the service's table (low-level client, as the sandbox provider's items)."""

    def __init__(self, client: Any, table_name: str, *, memory: timedelta = timedelta(days=14)) -> None:
        self._client = client
        self._table = table_name
        self._memory = memory  # TTL: longer than any retry of a batch and the report cutoff

    @staticmethod
    def key(batch_key: str) -> dict[str, Any]:
        return {"pk": {"S": f"SOLAPI#GROUP#{batch_key}"}, "sk": {"S": "GROUP"}}

    def get(self, batch_key: str) -> GroupTracking | None:
        item = self._client.get_item(TableName=self._table, Key=self.key(batch_key), ConsistentRead=True).get("Item")
        return GroupTracking.from_item(item) if item else None

    def claim(self, batch_key: str, group_id: str, now: datetime) -> GroupTracking:
        """Records ``group_id`` as the batch's group, unless another call already did: returns the winner."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    **self.key(batch_key),
                    "batch_key": {"S": batch_key},
                    "group_id": {"S": group_id},
                    "created_at": {"S": to_rfc3339(now)},
                    "expires_at": {"N": str(int((now + self._memory).timestamp()))},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            winner = self.get(batch_key)
            if winner is None:  # the winner's item cannot vanish within its TTL
                raise
            return winner
        return GroupTracking(batch_key=batch_key, group_id=group_id)

    def watch(self, batch_key: str, now: datetime, first_check: datetime) -> None:
        """Puts the group in the report index, once (a finished group never comes back)."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self.key(batch_key),
                UpdateExpression=(
                    "SET watched_at = if_not_exists(watched_at, :now), gsi2pk = :index, "
                    "gsi2sk = if_not_exists(gsi2sk, :next)"
                ),
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(finished_at)",
                ExpressionAttributeValues={
                    ":now": {"S": to_rfc3339(now)},
                    ":index": {"S": REPORT_INDEX},
                    ":next": {"S": to_rfc3339(first_check)},
                },
            )
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    def due(self, now: datetime, limit: int) -> Iterator[GroupTracking]:
        """The watched groups whose next check is due, oldest first (re-read consistently: the index lags)."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "gsi2",
            "KeyConditionExpression": "gsi2pk = :index AND gsi2sk <= :now",
            "ExpressionAttributeValues": {":index": {"S": REPORT_INDEX}, ":now": {"S": to_rfc3339(now)}},
            "ProjectionExpression": "batch_key",
            "Limit": limit,
        }
        found = 0
        while found < limit:
            page = self._client.query(**request)
            for item in page.get("Items", []):
                tracking = self.get(item["batch_key"]["S"])
                if tracking is not None and not tracking.finished and tracking.watched_at is not None:
                    found += 1
                    yield tracking
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def record(
        self, batch_key: str, reported: Iterable[str], now: datetime, *, finished: bool, next_check: datetime
    ) -> None:
        """Adds ``reported`` to the group's reported attempts, then reschedules it or drops it from the index."""
        values: dict[str, Any] = {":one": {"N": "1"}}
        adds = ["checks :one"]
        keys = sorted(set(reported))
        if keys:
            adds.append("reported :keys")
            values[":keys"] = {"SS": keys}
        if finished:
            expression = f"ADD {', '.join(adds)} SET finished_at = :now REMOVE gsi2pk, gsi2sk"
            values[":now"] = {"S": to_rfc3339(now)}
        else:
            expression = f"ADD {', '.join(adds)} SET gsi2sk = :next"
            values[":next"] = {"S": to_rfc3339(next_check)}
        self._client.update_item(
            TableName=self._table,
            Key=self.key(batch_key),
            UpdateExpression=expression,
            ExpressionAttributeValues=values,
        )


# -- the sender ---------------------------------------------------------------------------------------------------


class SolapiSender:
    """NotificationSender for sms and lms: one Solapi message group per batch (see the module notes)."""

    def __init__(
        self,
        api: SolapiApi,
        dynamodb_client: Any,
        table_name: str,
        sender_number: str,
        *,
        first_report_check: timedelta = timedelta(seconds=30),
    ) -> None:
        digits = "".join(c for c in sender_number if c.isdigit())
        if not 8 <= len(digits) <= 12:  # the registered sender number (terminology.md: 8 to 11 digits, 030: 12)
            raise ValueError("Solapi needs the registered sender number (SMS_SENDER_NUMBER)")
        self._api = api
        self._store = GroupTrackingStore(dynamodb_client, table_name)
        self._from = digits
        self._first_check = first_report_check

    def __repr__(self) -> str:
        return f"SolapiSender(api={self._api!r})"

    def send_batch(self, batch_key: str, messages: Sequence[NotificationMessage]) -> dict[str, MessageResult]:
        results: dict[str, MessageResult] = {}
        wire: dict[str, dict[str, Any]] = {}
        for message in messages:
            payload = self._wire(message)
            if payload is None:
                results[message.idempotency_key] = MessageResult(MessageStatus.REJECTED, code="UNSUPPORTED_NUMBER")
            else:
                wire[message.idempotency_key] = payload
        if not wire:
            return results
        try:
            by_attempt = self._deliver(batch_key, wire)
        except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as exc:
            logger.warning("Solapi group tracking unavailable", extra={"error": type(exc).__name__})
            raise ProviderUnavailable(f"Solapi group tracking: {type(exc).__name__}") from exc
        for key in wire:
            results[key] = _result(by_attempt.get(key))
        return results

    def _deliver(self, batch_key: str, wire: dict[str, dict[str, Any]]) -> dict[str, MessageRecord]:
        now = utc_now()
        tracking = self._store.get(batch_key)
        fresh = False
        if tracking is None:
            group_id = self._api.create_group()
            tracking = self._store.claim(batch_key, group_id, now)
            fresh = tracking.group_id == group_id
        group_id = tracking.group_id
        if fresh:  # nothing in it yet: the first call makes only the three requests create, add, send
            status, present = PENDING, {}
        else:
            status = self._api.group(group_id).status
            present = _by_attempt(self._api.group_messages(group_id))
            logger.info(
                "Solapi group read back", extra={"group_id": group_id, "status": status, "present": len(present)}
            )
        if status in _DEAD_GROUP_STATUSES:
            logger.error("Solapi group cannot be sent", extra={"group_id": group_id, "status": status})
            raise ProviderRejected(f"Solapi group is {status}", status=200, code=f"GROUP_{status}")
        if status == PENDING:
            missing = [
                payload
                for key, payload in wire.items()
                if key not in present or (present[key].intake_refused and _readdable(present[key].status_code))
            ]
            if missing:
                for record in self._api.add_messages(group_id, missing):
                    if record.attempt is not None:
                        present[record.attempt] = _better(present.get(record.attempt), record)
            refused = sorted({c for k in wire if (c := _code(present.get(k))) in _ACCOUNT_CODES})
            if refused:
                logger.error("Solapi refused the account's messages", extra={"group_id": group_id, "codes": refused})
                raise ProviderRejected(f"Solapi intake refused: {', '.join(refused)}", status=200, code=refused[0])
        accepted = [k for k in wire if k in present and not present[k].intake_refused]
        if accepted:
            self._store.watch(batch_key, now, now + self._first_check)  # before the send: a crash still gets reports
            if status == PENDING:
                sent_now = self._api.send_group(group_id)
                logger.info(
                    "Solapi group sent",
                    extra={"group_id": group_id, "accepted": len(accepted), "already_sent": not sent_now},
                )
        return present

    def _wire(self, message: NotificationMessage) -> dict[str, Any] | None:
        kind = _TYPES.get(message.channel)
        if kind is None:
            raise ValueError(f"SolapiSender sends sms and lms, not {message.channel}")
        if len(message.idempotency_key) > _CUSTOM_VALUE_MAX:
            raise ValueError("idempotency key is longer than a Solapi custom field value")
        to = _national(message.destination)
        if to is None:
            return None
        payload: dict[str, Any] = {
            "to": to,
            "from": self._from,
            "text": message.body,
            "type": kind,
            "customFields": {ATTEMPT_FIELD: message.idempotency_key},
        }
        if kind == "LMS" and message.title:
            payload["subject"] = message.title
        return payload


def _national(e164: str) -> str | None:
    """A Korean E.164 number as Solapi takes it (``+821012345678`` -> ``01012345678``); None for other countries."""
    if not e164.startswith("+82") or not e164[3:].isdigit():
        return None
    rest = e164[3:]
    return rest if rest.startswith("0") else f"0{rest}"


def _code(record: MessageRecord | None) -> str | None:
    return record.status_code if record is not None else None


def _better(known: MessageRecord | None, other: MessageRecord) -> MessageRecord:
    """Of two messages with one attempt key (one refused at intake, then added again), the one that went."""
    if known is None or (known.intake_refused and not other.intake_refused):
        return other
    return known


def _by_attempt(records: Iterable[MessageRecord]) -> dict[str, MessageRecord]:
    found: dict[str, MessageRecord] = {}
    for record in records:
        if record.attempt is not None:
            found[record.attempt] = _better(found.get(record.attempt), record)
    return found


def _result(record: MessageRecord | None) -> MessageResult:
    if record is None:  # not in the group (it was sent before this message could join): another batch may take it
        return MessageResult(MessageStatus.RETRY)
    code = record.status_code
    if not record.intake_refused:  # 2000 or later: it went; the report settles it
        return MessageResult(MessageStatus.ACCEPTED, record.message_id, code)
    if code in _INTAKE_RETRY_CODES:
        return MessageResult(MessageStatus.RETRY, code=code)
    return MessageResult(MessageStatus.REJECTED, code=code)


# -- reports ------------------------------------------------------------------------------------------------------


class SolapiReportSource:
    """ReportSource over the watched groups' message lists (see the module notes)."""

    def __init__(
        self,
        api: SolapiApi,
        dynamodb_client: Any,
        table_name: str,
        *,
        report_cutoff: timedelta = timedelta(hours=72),
        base_interval: timedelta = timedelta(seconds=30),
        max_interval: timedelta = timedelta(minutes=15),
        groups_per_poll: int = 100,
    ) -> None:
        self._api = api
        self._store = GroupTrackingStore(dynamodb_client, table_name)
        self._cutoff = report_cutoff
        self._base = base_interval
        self._max = max_interval
        self._groups_per_poll = groups_per_poll

    def __repr__(self) -> str:
        return f"SolapiReportSource(api={self._api!r})"

    def poll(self, now: datetime, publish: Callable[[Sequence[DeliveryReport]], None]) -> int:
        published = 0
        for tracking in list(self._store.due(now, self._groups_per_poll)):
            published += self._check(tracking, now, publish)
        return published

    def _check(
        self, tracking: GroupTracking, now: datetime, publish: Callable[[Sequence[DeliveryReport]], None]
    ) -> int:
        expired = tracking.watched_at is not None and now - tracking.watched_at >= self._cutoff
        reports: list[DeliveryReport] = []
        awaited = 0
        for attempt, record in _by_attempt(self._api.group_messages(tracking.group_id)).items():
            if record.intake_refused:  # never sent: answered at send time
                continue
            outcome = report_outcome(record.status_code)
            if outcome is None and not expired:
                awaited += 1
                continue
            if attempt in tracking.reported:
                continue
            reports.append(
                DeliveryReport(
                    attempt=attempt,
                    outcome=outcome or "UNDELIVERED",
                    occurred_at=record.occurred_at(now) if outcome else now,
                    provider=PROVIDER,
                    code=record.status_code,
                )
            )
        if reports:
            publish(reports)
        delay = min(self._max, self._base * (2 ** min(tracking.checks, 16)))
        self._store.record(
            tracking.batch_key, (r.attempt for r in reports), now, finished=awaited == 0, next_check=now + delay
        )
        logger.info(
            "Solapi reports read",
            extra={"group_id": tracking.group_id, "published": len(reports), "awaited": awaited, "expired": expired},
        )
        return len(reports)
